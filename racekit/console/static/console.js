// racekit console: one page, four views (#/ models, #/create, #/model/ID, #/leaderboard), all over the
// console's JSON API. Curves are drawn here on <canvas>; nothing is loaded from the network.
"use strict";

const $ = (id) => document.getElementById(id);
const DRAFT_KEY = "racekit-console-draft";
const DRAFT_FIELDS = ["name", "track", "race_type", "steering_low", "steering_high", "speed_low", "speed_high",
                      "algorithm", "minutes", "reward", "example"];
let timer = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value; else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

async function api(path, body) {
  const options = body === undefined ? {cache: "no-store"} :
    {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const response = await fetch(path, options);
  let data = {};
  try { data = await response.json(); } catch (e) { data = {error: "the console answered " + response.status}; }
  if (!response.ok && !data.error) data.error = "the console answered " + response.status;
  data.status = response.status;
  return data;
}

function minutes(seconds) {
  if (!seconds) return "-";
  return seconds < 90 ? seconds.toFixed(0) + " s" : (seconds / 60).toFixed(1) + " min";
}

function bestText(best) {
  if (!best) return "-";
  const lap = best.best_lap_time ? best.best_lap_time.toFixed(2) + " s" : "no lap";
  return `${lap}, ${best.clean_laps}/${best.laps} clean laps`;
}

const encode = (id) => encodeURIComponent(id);

// ---- models ---------------------------------------------------------------------------------------
async function showModels() {
  const data = await api("/api/runs");
  $("slots").textContent = `${data.training || 0} of ${data.max_trainings || "?"} training slots in use`;
  const body = $("models").querySelector("tbody");
  body.replaceChildren();
  $("models-empty").hidden = (data.runs || []).length > 0;
  for (const run of data.runs || []) {
    const picture = run.track ? el("img", {src: "/api/run/track.png?id=" + encode(run.id), alt: run.track,
                                           loading: "lazy"}) : "";
    const link = el("a", {href: "#/model/" + run.id, text: run.id});
    const del = el("button", {class: "danger", text: "Delete"});
    del.disabled = run.state === "training" || run.state === "queued";
    del.addEventListener("click", () => deleteRun(run.id));
    const row = el("tr", {"data-run": run.id}, el("td", {}, picture), el("td", {}, link),
      el("td", {}, el("span", {class: "state " + run.state, text: run.state, title: run.reason || ""})),
      el("td", {text: run.track || "-"}), el("td", {text: run.race_type || "-"}),
      el("td", {text: minutes(run.seconds_trained)}), el("td", {text: bestText(run.best)}), el("td", {}, del));
    body.append(row);
  }
}

async function deleteRun(id) {
  if (!window.confirm(`Delete the model ${id} and all its files? This cannot be undone.`)) return false;
  const result = await api("/api/run/delete", {id: id, confirm: id});
  if (result.error) { window.alert(result.error); return false; }
  if ((location.hash || "#/") === "#/") showModels(); else location.hash = "#/";
  return true;
}

// ---- create ---------------------------------------------------------------------------------------
let examples = {};

function saveDraft() {
  const draft = {};
  for (const name of DRAFT_FIELDS) draft[name] = $(name).value;
  localStorage.setItem(DRAFT_KEY, JSON.stringify(draft));
}

function restoreDraft() {
  let draft = null;
  try { draft = JSON.parse(localStorage.getItem(DRAFT_KEY) || "null"); } catch (e) { draft = null; }
  if (!draft) return false;
  for (const name of DRAFT_FIELDS) if (typeof draft[name] === "string") $(name).value = draft[name];
  return true;
}

function pickTrack(name) {
  $("track").value = name;
  for (const button of $("track-picker").children) button.classList.toggle("chosen", button.dataset.track === name);
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

function clearErrors() {
  for (const node of document.querySelectorAll(".field-error")) node.textContent = "";
}

function fieldError(field, message) {
  const slot = $("err-" + field) || $("err-form");
  slot.textContent = message;
}

async function setUpCreate() {
  const [tracks, example] = await Promise.all([api("/api/tracks"), api("/api/examples")]);
  examples = example.examples || {};
  $("example").replaceChildren(...Object.keys(examples).map((n) => el("option", {value: n, text: n})));
  $("race_type").replaceChildren(...(tracks.race_types || []).map((n) => el("option", {value: n, text: n})));
  $("track-picker").replaceChildren(...(tracks.tracks || []).map((t) => {
    const button = el("button", {type: "button", "data-track": t.name, title: `${t.length} m, ${t.direction}`},
      el("img", {src: "/api/track.png?name=" + encode(t.name), alt: t.name}),
      el("span", {text: `${t.name} (${t.length} m)`}));
    button.addEventListener("click", () => { pickTrack(t.name); saveDraft(); });
    return button;
  }));
  if (!restoreDraft()) {
    const preferred = Object.keys(examples).includes("centre_line_speed.py") ? "centre_line_speed.py" : Object.keys(examples)[0];
    $("example").value = preferred;
    $("reward").value = examples[preferred] || "";
    const fallback = (tracks.tracks || []).find((t) => t.default) || (tracks.tracks || [])[0];
    $("track").value = fallback ? fallback.name : "";
  }
  pickTrack($("track").value);
  updateGutter();
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

async function validate() {
  const result = $("validate-result");
  result.className = ""; result.textContent = "Validating (racekit reward check)...";
  $("validate").disabled = true;
  const data = await api("/api/reward/check", {code: $("reward").value, track: $("track").value,
                                               race_type: $("race_type").value});
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
  const form = {};
  for (const name of DRAFT_FIELDS) form[name] = $(name).value;
  const data = await api("/api/trainings", form);
  if (data.error) { fieldError(data.field || "form", data.error); return; }
  $("create-result").textContent = data.state === "queued" ? `${data.id}: queued (all training slots are in use)`
                                                           : `${data.id}: training`;
  localStorage.removeItem(DRAFT_KEY);  // it is a run now; its reward is in the run folder
  location.hash = "#/model/" + data.id;
}

// ---- one model ------------------------------------------------------------------------------------
function drawCurve(canvas, xs, ys, dots) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 34;
  ctx.clearRect(0, 0, w, h);
  const points = xs.map((x, i) => [x, ys[i]]).filter((p) => p[1] !== null && p[1] !== undefined);
  const all = points.concat((dots || []).map((d) => [d.x, d.y]));
  canvas.dataset.points = String(points.length);
  canvas.dataset.dots = String((dots || []).length);
  ctx.strokeStyle = "#999"; ctx.strokeRect(pad, 4, w - pad - 4, h - pad);
  ctx.fillStyle = "#555"; ctx.font = "11px sans-serif";
  if (!all.length) { ctx.fillText("no points yet", pad + 8, h / 2); return; }
  const xmin = Math.min(...all.map((p) => p[0])), xmax = Math.max(...all.map((p) => p[0]));
  const ymin = Math.min(...all.map((p) => p[1])), ymax = Math.max(...all.map((p) => p[1]));
  const sx = (x) => pad + (xmax > xmin ? (x - xmin) / (xmax - xmin) : 0.5) * (w - pad - 8);
  const sy = (y) => h - pad - 2 - (ymax > ymin ? (y - ymin) / (ymax - ymin) : 0.5) * (h - pad - 10);
  ctx.fillText(ymax.toPrecision(3), 2, 14); ctx.fillText(ymin.toPrecision(3), 2, h - pad);
  ctx.fillText(String(xmin), pad, h - pad + 14); ctx.fillText(xmax + " steps", w - 90, h - pad + 14);
  ctx.strokeStyle = "#1565c0"; ctx.lineWidth = 1.5; ctx.beginPath();
  points.forEach((p, i) => (i ? ctx.lineTo(sx(p[0]), sy(p[1])) : ctx.moveTo(sx(p[0]), sy(p[1]))));
  ctx.stroke();
  if (points.length === 1) { ctx.fillStyle = "#1565c0"; ctx.fillRect(sx(points[0][0]) - 2, sy(points[0][1]) - 2, 4, 4); }
  for (const d of dots || []) {
    ctx.fillStyle = d.clean ? "#c62828" : "#777";
    ctx.beginPath(); ctx.arc(sx(d.x), sy(d.y), 3.5, 0, 2 * Math.PI); ctx.fill();
  }
}

async function showModel(id) {
  const [run, curves, log] = await Promise.all([api("/api/run?id=" + encode(id)),
    api("/api/run/curves?id=" + encode(id)), api("/api/run/log?id=" + encode(id))]);
  if (run.error) { $("model-name").textContent = id; $("model-reason").textContent = run.error; return; }
  $("model-name").textContent = run.id;
  $("model-state").textContent = run.state; $("model-state").className = "state " + run.state;
  $("model-reason").textContent = run.reason || "";
  if (run.track && $("model-track").dataset.id !== id) {
    $("model-track").src = "/api/run/track.png?id=" + encode(id); $("model-track").dataset.id = id;
  }
  const facts = [["track", run.track], ["race type", run.race_type], ["algorithm", run.algorithm],
                 ["steps", (run.steps || 0).toLocaleString()], ["time trained", minutes(run.seconds_trained)],
                 ["evaluations", run.evaluations], ["best evaluation", bestText(run.best)], ["created", run.created]];
  $("model-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {text: k}), el("dd", {text: v ?? "-"})]));
  const busy = run.state === "training" || run.state === "queued";
  $("stop").disabled = !busy;
  $("resume").disabled = busy || !run.can_resume;
  $("delete").disabled = busy;
  $("download").disabled = !run.can_resume;
  if (!curves.error) {
    drawCurve($("curve-reward"), curves.step, curves.reward);
    drawCurve($("curve-progress"), curves.step, curves.progress);
    drawCurve($("curve-lap"), curves.step, curves.lap_time,
              curves.evaluations.filter((e) => e.mean_lap_time).map((e) => ({x: e.step, y: e.mean_lap_time,
                                                                             clean: e.all_clean})));
  }
  showLive(id, run);
  const pre = $("log");
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.textContent = (log.lines || []).join("\n") || "(no log: this run was not started from the console)";
  if (atEnd) pre.scrollTop = pre.scrollHeight;
}

// The trainer's evaluations, live: an MJPEG stream of each view while it trains, else its last frame.
const STREAM_RENEW_MS = 240000;  // the console ends a stream after 300 s; a new one before that

function showLive(id, run) {
  const status = run.live;
  const training = run.state === "training";
  $("live").hidden = !status && !training;
  if (!status) {
    $("live-note").textContent = "The car's camera and a chase view appear here during the training's evaluations.";
  } else {
    const step = (status.step || 0).toLocaleString();
    $("live-note").textContent = status.evaluating ? `Evaluating at step ${step} on ${status.track}.`
      : `Last evaluation at step ${step} on ${status.track}` + (training ? "; the next one shows here as it runs." : ".");
  }
  for (const view of ["front", "chase"]) {
    const img = $("live-" + view);
    const query = `?id=${encode(id)}&view=${view}`;
    if (!status || !status.views.includes(view)) { stopImage(img); continue; }
    if (training) {
      const url = "/api/run/live.mjpg" + query;
      if (img.dataset.url !== url || Date.now() - Number(img.dataset.since) > STREAM_RENEW_MS) {
        img.dataset.url = url; img.dataset.since = String(Date.now());
        img.src = url + "&t=" + Date.now();
      }
    } else {
      const url = "/api/run/live.jpg" + query + "&t=" + status.time;
      if (img.dataset.url !== url) { img.dataset.url = url; img.src = url; }
    }
  }
}

function stopImage(img) {  // closes its stream: the browser holds only a few connections to one server
  img.removeAttribute("src"); delete img.dataset.url;
}

function setUpModelButtons() {
  const current = () => decodeURIComponent(location.hash.slice("#/model/".length));
  const say = (text) => { $("model-message").textContent = text; };
  $("stop").addEventListener("click", async () => {
    const r = await api("/api/run/stop", {id: current()});
    say(r.error || "Stopping: the training keeps its last checkpoint.");
    showModel(current());
  });
  $("resume").addEventListener("click", async () => {
    const r = await api("/api/run/resume", {id: current(), minutes: $("resume-minutes").value});
    say(r.error || (r.state === "queued" ? "Queued: all training slots are in use." : "Resumed."));
    showModel(current());
  });
  $("download").addEventListener("click", async () => {
    say("Exporting (racekit export)...");
    const r = await api("/api/run/export", {id: current()});
    if (r.error) { say(r.error); return; }
    say(`Exported: ${r.bytes.toLocaleString()} bytes.`);
    location.href = r.model;
  });
  $("delete").addEventListener("click", () => deleteRun(current()));
}

// ---- routing --------------------------------------------------------------------------------------
function route() {
  clearInterval(timer);
  for (const view of ["front", "chase"]) stopImage($("live-" + view));
  const hash = location.hash || "#/";
  const view = hash.startsWith("#/model/") ? "model" : hash === "#/create" ? "create"
             : hash === "#/leaderboard" ? "leaderboard" : "models";
  for (const name of ["models", "create", "model", "leaderboard"]) $("page-" + name).hidden = name !== view;
  for (const name of ["models", "create", "leaderboard"]) $("nav-" + name).classList.toggle("current", name === view);
  if (view === "models") { showModels(); timer = setInterval(showModels, 3000); }
  if (view === "model") {
    const id = decodeURIComponent(hash.slice("#/model/".length));
    $("model-message").textContent = "";
    showModel(id); timer = setInterval(() => showModel(id), 2000);
  }
  if (view === "leaderboard" && $("leaderboard").getAttribute("src") !== "/leaderboard") $("leaderboard").src = "/leaderboard";
}

window.addEventListener("hashchange", route);
setUpModelButtons();
setUpCreate().then(route);
