// The create page's settings (create.js holds the form): the track gallery (built-in, generated, DeepRacer's
// public tracks), the race type's, sensors' and action space's own settings, and the discrete action rows.
"use strict";

let deepracerActions = [];
let algorithmDefaults = {};

function trackCard(id, label, title) {
  const button = el("button", {type: "button", "data-track": id, title: title || label},
    el("img", {src: "/api/track.png?name=" + encode(id), alt: label, loading: "lazy"}), el("span", {text: label}));
  button.addEventListener("click", () => { pickTrack(id); saveDraft(); });
  return button;
}

function pickTrack(id) {
  if (id.startsWith("generated:") && !document.querySelector(`#generated-picker [data-track="${id}"]`)) {
    showGenerated(id.slice("generated:".length));
  }
  $("track").value = id;
  for (const button of document.querySelectorAll("#create-form .picker button")) {
    button.classList.toggle("chosen", button.dataset.track === id);
  }
  const chosen = document.querySelector(`#deepracer-picker [data-track="${id}"]`);
  if (chosen) $("deepracer-tracks").open = true;
}

function showGenerated(seed) {
  const id = "generated:" + seed;
  $("generated-picker").replaceChildren(trackCard(id, `generated:${seed}`, "a generated track"));
}

function setUpTracks(tracks) {
  $("track-picker").replaceChildren(...(tracks.tracks || []).map(
    (t) => trackCard(t.name, `${t.name} (${t.length} m)`, `${t.length} m, ${t.width} m wide, ${t.direction}`)));
  const deepracer = tracks.deepracer || [];
  $("deepracer-tracks").hidden = !deepracer.length;
  $("deepracer-count").textContent = String(deepracer.length);
  $("deepracer-picker").replaceChildren(...deepracer.map((t) => trackCard(t.id, t.name)));
  $("show-generated").addEventListener("click", () => {
    clearErrors($("create-form"));
    const seed = $("generated_seed").value.trim();
    if (!/^\d{1,6}$/.test(seed)) { fieldError("track", "generated track: a seed of 0 to 999999"); return; }
    showGenerated(seed); pickTrack("generated:" + seed); saveDraft();
  });
}

// The settings that go with one choice: .race-settings[data-for=TYPE] beside a race type's select.
function showChoiceSettings() {
  for (const group of document.querySelectorAll("#create-form .race-settings")) {
    group.hidden = group.dataset.for !== $("race_type").value;
  }
  showPlacement(document.querySelector('#create-form .race-settings[data-for="object-avoidance"]'), $("placement").value);
  $("lidar-settings").hidden = $("lidar").value !== "discretized-sector-lidar";
  const algorithm = $("algorithm").value;
  for (const label of document.querySelectorAll("#algorithm-settings [data-algorithm]")) {
    label.hidden = label.dataset.algorithm !== algorithm;
  }
  for (const [name, value] of Object.entries(algorithmDefaults[algorithm] || {})) $(name).placeholder = String(value);
  const discrete = $("action-discrete").checked;
  $("discrete-settings").hidden = !discrete;
  $("continuous-settings").hidden = discrete;
}

function actionRow(steering, speed) {
  const input = (cls, value, step) => el("input", {type: "number", class: cls, step: step, value: String(value)});
  const remove = el("button", {type: "button", class: "danger", text: "Remove"});
  const row = el("tr", {}, el("td", {class: "index"}), el("td", {}, input("steering", steering, "1")),
                 el("td", {}, input("speed", speed, "0.1")), el("td", {}, remove));
  remove.addEventListener("click", () => { row.remove(); numberRows(); saveDraft(); });
  return row;
}

function numberRows() {
  [...$("actions-table").tBodies[0].rows].forEach((row, i) => { row.cells[0].textContent = String(i + 1); });
}

function setActionRows(rows) {
  $("actions-table").tBodies[0].replaceChildren(...rows.map((a) => actionRow(a.steering, a.speed)));
  numberRows();
}

function actionRows() {
  return [...$("actions-table").tBodies[0].rows].map((row) => ({
    steering: row.querySelector(".steering").value, speed: row.querySelector(".speed").value}));
}

function setUpSettings(tracks) {
  setUpTracks(tracks);
  $("race_type").replaceChildren(...(tracks.race_types || []).map((n) => el("option", {value: n, text: n})));
  deepracerActions = tracks.deepracer_actions || [];
  algorithmDefaults = tracks.algorithm_defaults || {};
  setActionRows(deepracerActions);
  $("add-action").addEventListener("click", () => {
    $("actions-table").tBodies[0].append(actionRow(0, 1)); numberRows(); saveDraft();
  });
  $("deepracer-actions").addEventListener("click", () => { setActionRows(deepracerActions); saveDraft(); });
  setPositionRows($("positions-table"), DEFAULT_POSITIONS, saveDraft);
  $("add-position").addEventListener("click", () => {
    $("positions-table").tBodies[0].append(positionRow($("positions-table"), 0.5, "left", saveDraft));
    numberPositions($("positions-table")); saveDraft();
  });
  $("create-form").addEventListener("change", showChoiceSettings);
}
