// The create-model page (#/create, and #/create/from/ID for a clone): the form, its draft in localStorage, the reward editor and Validate.
"use strict";

const DRAFT_KEY = "racekit-console-draft";
const DRAFT_FIELDS = ["name", "track", "direction", "race_type", "placement", "objects", "bots", "bot_speed", "camera", "lidar",
                      "lidar_sectors", "lidar_values", "lidar_clip", "steering_low", "steering_high", "speed_low",
                      "speed_high", "algorithm", "learning_rate", "discount", "entropy", "epochs", "minibatch",
                      "replay_ratio", "randomize", "minutes", "reward", "example", "generated_seed"];
let examples = {};
let defaultTrack = "";
let cloneFrom = null;  // #/create/from/ID: a clone of that model (racekit train --from)

const draftKey = () => DRAFT_KEY + (cloneFrom ? ":from:" + cloneFrom : "");

// What the form says now, as the console takes it (POST /api/trainings) and as its draft is kept.
function formValues() {
  const form = {};
  for (const name of DRAFT_FIELDS) form[name] = $(name).value;
  form.lane_changes = $("lane_changes").checked;
  form.action_type = $("action-discrete").checked ? "discrete" : "continuous";
  form.actions = actionRows();
  form.object_positions = positionRows($("positions-table"));
  return form;
}

function setFormValues(values) {
  for (const name of DRAFT_FIELDS) if (typeof values[name] === "string") $(name).value = values[name];
  $("lane_changes").checked = values.lane_changes === true;
  $(values.action_type === "discrete" ? "action-discrete" : "action-continuous").checked = true;
  if (Array.isArray(values.actions)) setActionRows(values.actions);
  if (Array.isArray(values.object_positions)) setPositionRows($("positions-table"), values.object_positions, saveDraft);
  pickTrack($("track").value);
  showChoiceSettings();
}

function saveDraft() {
  localStorage.setItem(draftKey(), JSON.stringify(formValues()));
}

function restoreDraft() {
  let draft = null;
  try { draft = JSON.parse(localStorage.getItem(draftKey()) || "null"); } catch (e) { draft = null; }
  if (!draft) return false;
  setFormValues(draft);
  return true;
}

function updateGutter(badLine) {
  const lines = $("reward").value.split("\n").length;
  const gutter = $("gutter");
  gutter.replaceChildren();
  for (let i = 1; i <= lines; i++) {
    gutter.append(el("span", {class: i === badLine ? "bad" : "", text: String(i)}), "\n");
  }
  gutter.scrollTop = $("reward").scrollTop;
}

function showLine(line) {
  const text = $("reward").value;
  let start = 0;
  for (let i = 1; i < line; i++) start = text.indexOf("\n", start) + 1;
  const end = text.indexOf("\n", start);
  $("reward").focus();
  $("reward").setSelectionRange(start, end < 0 ? text.length : end);
  updateGutter(line);
}

async function setUpCreate(tracks) {
  const example = await api("/api/examples");
  examples = example.examples || {};
  $("example").replaceChildren(...Object.keys(examples).map((n) => el("option", {value: n, text: n})));
  setUpSettings(tracks);
  const fallback = (tracks.tracks || []).find((t) => t.default) || (tracks.tracks || [])[0];
  defaultTrack = fallback ? fallback.name : "";
  $("create-form").addEventListener("input", saveDraft);
  $("create-form").addEventListener("change", saveDraft);
  $("reward").addEventListener("input", () => updateGutter());
  $("reward").addEventListener("scroll", () => { $("gutter").scrollTop = $("reward").scrollTop; });
  $("load-example").addEventListener("click", () => {
    $("reward").value = examples[$("example").value] || "";
    updateGutter(); saveDraft();
  });
  $("validate").addEventListener("click", validate);
  $("create-form").addEventListener("submit", (event) => { event.preventDefault(); create(); });
}

function loadExample(name) {
  $("example").value = name;
  $("reward").value = examples[name] || "";
}

// The page for a new model, or (from: a model's id) for a clone of it, with the draft kept for each.
async function showCreate(from) {
  cloneFrom = from || null;
  clearErrors();
  $("create-result").textContent = "";
  $("clone-banner").hidden = !cloneFrom;
  $("create").disabled = false;
  for (const node of document.querySelectorAll("#create-form .own-settings")) node.hidden = Boolean(cloneFrom);
  const preferred = Object.keys(examples).includes("centre_line_speed.py") ? "centre_line_speed.py" : Object.keys(examples)[0];
  let source = null;
  if (cloneFrom) {
    $("create-title").textContent = "Clone " + cloneFrom;
    $("clone-banner").textContent = "Reading the model...";
    source = await api("/api/run/clone?id=" + encode(cloneFrom));
    if (!source.ok) {
      $("clone-banner").textContent = `${cloneFrom} cannot be cloned: ${source.why || source.error}`;
      $("create").disabled = true;
    } else {
      $("clone-banner").textContent = `A new model that starts from ${cloneFrom}'s best checkpoint: its network, ` +
        "camera, sensors and action space are kept; the track, race type, reward and training time are yours.";
    }
  } else {
    $("create-title").textContent = "Create model";
  }
  if (!restoreDraft()) {
    $("create-form").reset();
    setActionRows(deepracerActions);
    setPositionRows($("positions-table"), DEFAULT_POSITIONS, saveDraft);
    $("name").value = cloneFrom ? cloneFrom.split("/").pop() + "-clone" : "";
    if (source && source.ok && source.reward) { $("reward").value = source.reward; $("example").value = preferred; }
    else loadExample(preferred);
    $("track").value = (source && source.ok && source.track) || defaultTrack;
    $("race_type").value = (source && source.ok && source.race_type) || "time-trial";
    pickTrack($("track").value);
    showChoiceSettings();
  }
  updateGutter();
}

async function validate() {
  const result = $("validate-result");
  result.className = ""; result.textContent = "Validating (racekit reward check)...";
  $("validate").disabled = true;
  const data = await api("/api/reward/check", {code: $("reward").value, track: $("track").value,
                                               race_type: $("race_type").value, objects: $("objects").value,
                                               bots: $("bots").value, bot_speed: $("bot_speed").value});
  $("validate").disabled = false;
  if (data.ok) {
    result.className = "ok";
    result.textContent = "Valid: every call returned a finite number." +
      (data.warnings && data.warnings.length ? " Warnings: " + data.warnings.join("; ") : "");
    updateGutter();
  } else {
    result.className = "bad";
    result.textContent = (data.line ? `Line ${data.line}: ` : "") + (data.error || "the check failed");
    if (data.line) showLine(data.line);
  }
  return data;
}

async function create() {
  clearErrors();
  $("create-result").textContent = "";
  const form = formValues();
  if (cloneFrom) form.from = cloneFrom;
  const data = await api("/api/trainings", form);
  if (data.error) { fieldError(data.field || "form", data.error); return; }
  $("create-result").textContent = data.state === "queued" ? `${data.id}: queued (all training slots are in use)`
                                                           : `${data.id}: training`;
  localStorage.removeItem(draftKey());  // it is a run now; its reward is in the run folder
  location.hash = "#/model/" + data.id;
}
