// A model's evaluations (#/model/ID): the race form, the robustness suite and the analysis, each started
// as a `racekit` command; their progress, results table, replay, map, picture and report. And its car section.
"use strict";

const RACE_FIELDS = ["track", "generated_seed", "direction", "laps", "race_type", "placement", "objects", "bots",
                     "bot_speed"];
const TASK_TITLES = {race: "Race", robustness: "Robustness suite", analysis: "Analysis"};

function showRaceSettings() {
  for (const group of document.querySelectorAll("#race-form .race-settings")) {
    group.hidden = group.dataset.for !== $("race-race_type").value;
  }
  showPlacement(document.querySelector('#race-form .race-settings[data-for="object-avoidance"]'),
                $("race-placement").value);
}

// The race form's track: the model's own, as the create page's gallery offers them (built-in, generated with
// a seed, DeepRacer's public tracks where their folder is), with its picture.
function showRaceTrack() {
  const chosen = $("race-track").value;
  $("race-generated").hidden = chosen !== "generated";
  const name = chosen === "generated" ? "generated:" + $("race-generated_seed").value.trim() : chosen;
  const picture = $("race-track-picture");
  picture.hidden = !name || (chosen === "generated" && !/^\d{1,6}$/.test($("race-generated_seed").value.trim()));
  if (!picture.hidden) picture.src = "/api/track.png?name=" + encode(name);
}

async function setUpEvaluate(tracks) {
  const deepracer = tracks.deepracer || [];
  $("race-track").replaceChildren(el("option", {value: "", text: "the model's own track"}),
    el("optgroup", {label: "built-in tracks"},
       ...(tracks.tracks || []).map((t) => el("option", {value: t.name, text: `${t.name} (${t.length} m)`}))),
    el("option", {value: "generated", text: "a generated track, from its seed"}),
    ...(deepracer.length ? [el("optgroup", {label: "DeepRacer's public tracks"},
                               ...deepracer.map((t) => el("option", {value: t.id, text: t.name})))] : []));
  $("race-track").addEventListener("change", showRaceTrack);
  $("race-generated_seed").addEventListener("change", showRaceTrack);
  showRaceTrack();
  $("race-race_type").replaceChildren(...(tracks.race_types || []).map((n) => el("option", {value: n, text: n})));
  $("race-race_type").addEventListener("change", showRaceSettings);
  $("race-placement").addEventListener("change", showRaceSettings);
  setPositionRows($("race-positions-table"), DEFAULT_POSITIONS);
  $("race-add-position").addEventListener("click", () => {
    $("race-positions-table").tBodies[0].append(positionRow($("race-positions-table"), 0.5, "left"));
    numberPositions($("race-positions-table"));
  });
  showRaceSettings();
  const current = () => decodeURIComponent(location.hash.slice("#/model/".length));
  const start = async (what, body) => {
    clearErrors($("race-form"));
    const r = await api("/api/run/" + what, {id: current(), ...body});
    if (r.error) { fieldError(r.field || "form", r.error, "race-"); return; }
    showTasks(current());
  };
  $("race-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = {lane_changes: $("race-lane_changes").checked,
                  object_positions: positionRows($("race-positions-table"))};
    for (const name of RACE_FIELDS) form[name] = $("race-" + name).value;
    start("race", form);
  });
  $("robustness").addEventListener("click", () => start("robustness", {}));
  $("analysis").addEventListener("click", () => start("analysis", {}));
}

function fileUrl(id, task, name) {
  return `/api/run/task/file?id=${encode(id)}&task=${encode(task.id)}&name=${name}`;
}

function raceTable(result) {
  const rows = result.lap_times.map((t, i) => el("tr", {},
    el("td", {text: String(i + 1)}), el("td", {text: t.toFixed(2) + " s"}),
    el("td", {text: result.offtracks_per_lap ? String(result.offtracks_per_lap[i]) : "-"}),
    el("td", {text: result.crashes_per_lap ? String(result.crashes_per_lap[i]) : "-"})));
  const total = el("tr", {class: "total"}, el("td", {text: "all"}),
    el("td", {text: result.dnf ? "DNF" : result.total.toFixed(2) + " s"}),
    el("td", {text: String(result.offtracks)}), el("td", {text: String(result.crashes)}));
  return el("table", {class: "race-result"},
    el("thead", {}, el("tr", {}, el("th", {text: "lap"}), el("th", {text: "time"}), el("th", {text: "off-tracks"}),
                       el("th", {text: "crashes"}))),
    el("tbody", {}, ...rows, total),
    el("caption", {text: `${result.track} (${result.direction}), ${result.race_type}: ` +
                         `${result.completion}% complete, ${result.resets} resets; leaderboard result #${result.result_id}`}));
}

function taskCard(id, task) {
  const head = el("h3", {text: `${TASK_TITLES[task.kind]} `},
    el("span", {class: "state " + (task.state === "done" ? "finished" : task.state), text: task.state}),
    el("small", {text: ` started ${task.started.replace("T", " ").replace("Z", " UTC")}`}));
  const card = el("div", {class: "task", "data-task": task.id, "data-state": task.state}, head);
  if (task.kind === "race" && task.options) {
    const o = task.options;
    card.append(el("p", {class: "hint", text: `${o.track || "its own track"}, ${o.direction || "forward"}, ` +
                                              `${o.laps} lap${o.laps === 1 ? "" : "s"}, ${o.race_type || "time-trial"}` +
                                              (o.object_positions ? ` (boxes at ${o.object_positions})` : "")}));
  }
  if (task.state === "running") {
    const bar = el("progress", {max: "1"});
    if (task.progress !== null) bar.value = task.progress;  // else: an indeterminate bar
    const cancel = el("button", {type: "button", class: "danger cancel", text: "Cancel"});
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      cancel.textContent = "Cancelling...";
      const r = await api("/api/run/task/cancel", {id: id, task: task.id});
      if (r.error) card.append(el("p", {class: "error", text: r.error}));
      showTasks(id);
    });
    card.append(el("p", {}, bar, " ", el("span", {class: "line", text: task.line}), " ", cancel));
    return card;
  }
  if (task.state === "failed") { card.append(el("p", {class: "error", text: task.error || "failed"})); return card; }
  if (task.state === "cancelled") { card.append(el("p", {class: "hint", text: "cancelled before it ended"})); return card; }
  const outputs = el("div", {class: "outputs"});
  if (task.kind === "race" && task.result) outputs.append(raceTable(task.result));
  if (task.kind === "race" && task.files["replay.mp4"]) {
    outputs.append(el("video", {src: fileUrl(id, task, "replay.mp4"), controls: "", preload: "metadata"}));
  }
  if (task.kind === "race" && task.files["map.png"]) {
    outputs.append(el("img", {class: "map", src: fileUrl(id, task, "map.png"), alt: "the driven line"}));
  }
  if (task.kind === "robustness") {
    const r = task.result || {};
    card.append(el("p", {text: `score: ${(100 * r.score).toFixed(1)}% clean laps (${r.clean_laps}/${r.laps})`}));
    outputs.append(el("img", {class: "suite", src: fileUrl(id, task, "robustness.png"), alt: "robustness suite"}));
  }
  if (task.kind === "analysis") {
    outputs.append(el("a", {href: fileUrl(id, task, "report.html"), target: "_blank", rel: "noopener",
                            text: "Open the analysis report"}));
  }
  card.append(outputs);
  return card;
}

// Only cards whose task changed are drawn again: a replay being watched is left alone.
async function showTasks(id) {
  const data = await api("/api/run/tasks?id=" + encode(id));
  if (data.error) return;
  const box = $("tasks");
  if (box.dataset.run !== id) { box.replaceChildren(); box.dataset.run = id; }
  const old = new Map([...box.children].map((node) => [node.dataset.task, node]));
  const cards = data.tasks.map((task) => {
    const signature = JSON.stringify([task.state, task.progress, task.line, task.result, task.files]);
    const node = old.get(task.id);
    if (node && node.dataset.signature === signature) return node;
    const card = taskCard(id, task);
    card.dataset.signature = signature;
    return card;
  });
  cards.forEach((card, i) => { if (box.children[i] !== card) box.insertBefore(card, box.children[i] || null); });
  while (box.children.length > cards.length) box.lastChild.remove();
}

// The car: flash this model (racekit flash), or read the car service's status (racekit car status).
function setUpCar() {
  const current = () => decodeURIComponent(location.hash.slice("#/model/".length));
  $("car").value = localStorage.getItem("racekit-console-car") || "";
  const send = async (path, body, busy) => {
    clearErrors($("car-form"));
    localStorage.setItem("racekit-console-car", $("car").value);
    $("car-result").hidden = false;
    $("car-result").textContent = busy;
    const r = await api(path, {car: $("car").value, car_token: $("car_token").value, ...body});
    if (r.error) { $("car-result").hidden = true; fieldError(r.field || "form", r.error, "car-"); return null; }
    return r;
  };
  $("car-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const r = await send("/api/run/flash", {id: current(), activate: $("car-activate").checked},
                         "Flashing (racekit flash)...");
    if (r) $("car-result").textContent = r.lines.join("\n");
  });
  $("car-status").addEventListener("click", async () => {
    const r = await send("/api/car/status", {}, "Asking the car (racekit car status)...");
    if (!r) return;
    const s = r.car;
    const model = (s.active && s.active.name) || "none";
    $("car-result").textContent = `state: ${s.state}${s.running ? " (driving)" : ""}\nactive model: ${model}\n` +
      (s.last_error ? `last error: ${s.last_error}\n` : "") + JSON.stringify(s, null, 1);
  });
}
