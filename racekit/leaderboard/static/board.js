// The leaderboard page: fetch the ranked boards, draw one table per board, open a run's replay on click.
// Every value from the database goes in with textContent (racer names are typed by people).
"use strict";

const $ = (id) => document.getElementById(id);

function seconds(value) {
  return value === null || value === undefined ? "–" : value.toFixed(2);
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function header(table, names) {
  const row = table.createTHead().insertRow();
  for (const [name, numeric] of names) {
    const th = document.createElement("th");
    th.textContent = name;
    if (numeric) th.className = "num";
    row.appendChild(th);
  }
}

function drawBoard(board) {
  const section = document.createElement("section");
  section.className = "board " + board.kind + " " + board.race_type;
  section.dataset.board = board.key;
  section.dataset.raceType = board.race_type;
  const title = document.createElement("h2");
  title.textContent = board.title;
  section.appendChild(title);
  const table = document.createElement("table");
  header(table, [["#", true], ["map", false], ["racer", false], ["time", true], ["best lap", true],
                 ["lap times", false], ["off-tracks", true], ["crashes", true], ["suite", true], ["date", false],
                 ["", false]]);
  const body = table.createTBody();
  for (const entry of board.entries) {
    const row = body.insertRow();
    row.className = "entry " + (entry.position ? "ranked position-" + entry.position : "unranked");
    row.dataset.id = entry.id;
    cell(row, entry.position ? String(entry.position) : "–", "num position");
    const thumb = cell(row, "", "thumb");
    if (entry.map) {  // the race's track map, small: the driven line at a glance
      const img = document.createElement("img");
      img.src = entry.map;
      img.alt = "track map of " + entry.racer;
      img.loading = "lazy";
      thumb.appendChild(img);
    }
    cell(row, entry.racer, "racer");
    cell(row, entry.position ? seconds(entry.score) : entry.reason, "num score");
    cell(row, seconds(entry.best_lap), "num");
    cell(row, entry.lap_times.map(seconds).join("  ") || "–", "laptimes");
    cell(row, String(entry.offtracks), "num offtracks");
    cell(row, String(entry.crashes), "num crashes");
    // the model's robustness suite score (racekit evaluate MODEL --suite robustness --db), where stored
    const suite = entry.suite_score;
    cell(row, suite === null || suite === undefined ? "–" : Math.round(suite * 100) + "%", "num suite");
    cell(row, entry.created.slice(0, 16).replace("T", " "), "date");
    const open = cell(row, "", "");
    if (entry.analysis) {  // the training run is known: its racekit analyze report
      const link = document.createElement("a");
      link.href = entry.analysis;
      link.className = "analysis";
      link.textContent = "analysis";
      link.target = "_blank";
      link.addEventListener("click", (event) => event.stopPropagation());
      open.appendChild(link);
    }
    if (entry.video || entry.map) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "open";
      button.textContent = "replay";
      open.appendChild(button);
    }
    row.addEventListener("click", () => openReplay(board, entry));
  }
  section.appendChild(table);
  return section;
}

function heatText(heat) {
  if (!heat) return "";
  const contacts = (list, verb) => list.map((c) => verb + " " + c.racer + " at " + seconds(c.sim_time) + " s");
  const parts = ["heat #" + heat.id + ": finished " + heat.position + " of " + heat.cars,
                 ...contacts(heat.hit, "hit"), ...contacts(heat.hit_by, "hit by")];
  return parts.join(" · ");
}

function openReplay(board, entry) {
  const dialog = $("replay");
  $("replay-title").textContent = entry.racer + " · " + board.track + " (" + board.direction + ") · " +
    board.race_type_title;
  const perLap = entry.crashes_per_lap ? " (per lap " + entry.crashes_per_lap.join(", ") + ")" : "";
  $("replay-laps").textContent = "laps: " + (entry.lap_times.map(seconds).join("  ") || "none") +
    " · off-tracks " + entry.offtracks + " · crashes " + entry.crashes + perLap + " · resets " + entry.resets +
    (entry.dnf ? " · DNF" : "");
  $("replay-heat").textContent = heatText(entry.heat);
  $("replay-model").textContent = entry.model_sha256 ? "model sha256 " + entry.model_sha256 : "";
  const video = $("replay-video");
  video.hidden = !entry.video;
  if (entry.video) video.src = entry.video; else video.removeAttribute("src");
  const map = $("replay-map");
  map.hidden = !entry.map;
  if (entry.map) map.src = entry.map; else map.removeAttribute("src");
  dialog.dataset.id = entry.id;
  if (!dialog.open) dialog.showModal();
  if (entry.video) video.play().catch(() => {});  // autoplay may be refused: the controls are there
}

function closeReplay() {
  const video = $("replay-video");
  video.pause();
  $("replay").close();
}

async function load() {
  const params = new URLSearchParams({ rank: $("rank").value });
  if ($("laps").value) params.set("laps", $("laps").value);
  let data;
  try {
    const response = await fetch("/api/boards?" + params, { cache: "no-store" });
    data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
  } catch (err) {
    $("message").textContent = "Could not load the leaderboard: " + err.message;
    return;
  }
  const boards = $("boards");
  boards.replaceChildren(...data.boards.map(drawBoard));
  $("message").textContent = data.boards.length ? "" :
    "No results yet: race a model with  racekit race MODEL.onnx";
  $("laps").placeholder = data.laps || "";  // the laps a run needs under this rank
  document.body.dataset.rank = data.rank;  // what is drawn now (tests wait on it)
  document.body.dataset.loaded = "true";
}

$("rank").addEventListener("change", load);
$("laps").addEventListener("change", load);
$("replay-close").addEventListener("click", closeReplay);
$("replay").addEventListener("close", () => $("replay-video").pause());
load();
