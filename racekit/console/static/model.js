// One model's page (#/model/ID): its state, curves, log, live view and buttons.
"use strict";

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
  // One request at a time: the live streams and a replay hold some of the few connections a browser opens.
  const run = await api("/api/run?id=" + encode(id));
  const curves = await api("/api/run/curves?id=" + encode(id));
  const log = await api("/api/run/log?id=" + encode(id));
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
  const imported = run.state === "imported";
  $("download").disabled = !run.can_resume && !imported;
  $("download-deepracer").disabled = !run.can_resume && !imported;
  $("clone").disabled = run.state === "queued";
  for (const node of document.querySelectorAll("#page-model .trained-only")) node.hidden = imported;
  if (!curves.error) {
    drawCurve($("curve-reward"), curves.step, curves.reward);
    drawCurve($("curve-progress"), curves.step, curves.progress);
    drawCurve($("curve-lap"), curves.step, curves.lap_time,
              curves.evaluations.filter((e) => e.mean_lap_time).map((e) => ({x: e.step, y: e.mean_lap_time,
                                                                             clean: e.all_clean})));
  }
  showLive(id, run);
  await showTasks(id);
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
  $("download-deepracer").addEventListener("click", async () => {
    say("Exporting as a DeepRacer model (racekit export --format deepracer)...");
    const r = await api("/api/run/export-deepracer", {id: current()});
    if (r.error) { say(r.error); return; }
    say(`Exported: ${r.bytes.toLocaleString()} bytes.`);
    location.href = r.model;
  });
  $("clone").addEventListener("click", () => { location.hash = "#/create/from/" + current(); });
  $("delete").addEventListener("click", () => deleteRun(current()));
}
