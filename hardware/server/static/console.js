// The car's console: status, start/stop/e-stop, models, calibration, camera.
// Plain JS, no build step. Every call carries the login cookie; a 401 means the
// cookie is gone or the token changed, so the page reloads into the login page.
"use strict";

const $ = (id) => document.getElementById(id);
const TIMEOUT_MS = 15000;  // a car that does not answer in this long is shown as unreachable
const UPLOAD_TIMEOUT_MS = 300000;

async function api(method, path, {body, headers = {}, timeout = TIMEOUT_MS} = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  const options = {method, headers: {Accept: "application/json", ...headers}, signal: controller.signal,
                   credentials: "same-origin"};
  if (body instanceof Blob) { options.body = body; }
  else if (body !== undefined) { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
  try {
    const response = await fetch(path, options);
    if (response.status === 401) { location.reload(); throw new Error("not logged in"); }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || `${method} ${path}: ${response.status}`);
    return data;
  } finally {
    clearTimeout(timer);
  }
}

function say(text) { $("message").textContent = text || ""; }

async function act(promise) {
  try { await promise; say(""); } catch (error) { say(error.message); }
  await refreshStatus();
  await refreshModels();
}

// -- status ------------------------------------------------------------------
function describeModel(model) {
  if (!model) return "none";
  const sensors = (model.sensors || ["front-camera"]).join(", ");
  return `${model.name} (${model.sha256.slice(0, 12)}, ${sensors})`;
}

function describeCommand(cmd) {
  if (!cmd) return "–";
  const us = cmd.steering_us == null ? "not sent"
    : `${cmd.steering_us.toFixed(1)} / ${cmd.throttle_us.toFixed(1)} µs`;
  return `steering ${cmd.steering.toFixed(2)}, throttle ${cmd.throttle.toFixed(2)} (${us}, ${cmd.reason})`;
}

function showStatus(status) {
  const pill = $("state");
  pill.textContent = status.state;
  pill.className = "pill " + status.state;
  $("status-sensors").textContent = status.sensors ? status.sensors.summary : "–";
  $("status-active").textContent = describeModel(status.active);
  $("status-model").textContent = status.running ? `${describeModel(status.model)} at speed cap ${status.max_speed}` : "–";
  $("status-loop").textContent = status.running
    ? `${status.loop_hz == null ? "starting" : status.loop_hz.toFixed(1) + " Hz"}, ${status.ticks} ticks`
    : (status.stop_reason ? `stopped (${status.stop_reason})` : "stopped");
  $("status-command").textContent = describeCommand(status.last_command);
  $("status-error").textContent = status.last_error || "none";
  $("estop-clear").hidden = !status.estop;
  $("start").disabled = status.running || status.estop;
}

async function refreshStatus() {
  try { showStatus(await api("GET", "/api/status")); }
  catch (error) { $("state").textContent = "unreachable"; $("state").className = "pill"; }
}

function pollStatus() {  // a chain of timeouts, not setInterval: a slow answer never piles up requests
  refreshStatus().finally(() => setTimeout(pollStatus, 1000));
}

// -- models ------------------------------------------------------------------
function cell(row, text) {
  const td = row.insertCell();
  td.textContent = text;
  return td;
}

async function refreshModels() {
  let listing;
  try { listing = await api("GET", "/api/models"); } catch (error) { return; }
  const body = $("models").tBodies[0];
  body.replaceChildren();
  for (const model of listing.models) {
    const row = body.insertRow();
    row.className = model.active ? "active" : "";
    row.dataset.sha256 = model.sha256;
    cell(row, model.name).title = `${model.size} bytes, camera ${model.camera.width}x${model.camera.height}`;
    cell(row, model.sha256.slice(0, 8)).title = model.sha256;
    cell(row, new Date(model.uploaded * 1000).toLocaleString([], {month: "short", day: "numeric",
                                                                    hour: "2-digit", minute: "2-digit"}));
    const actions = cell(row, model.active ? "active" : "");
    if (!model.active) {
      const button = document.createElement("button");
      button.textContent = "Activate";
      button.className = "activate";
      button.type = "button";
      button.addEventListener("click", () => act(api("POST", `/api/models/${model.sha256}/activate`)));
      actions.append(button);
    }
  }
  $("rollback").disabled = listing.history.length === 0;
}

async function upload(event) {
  event.preventDefault();
  const file = $("upload-file").files[0];
  if (!file) return;
  say(`checking ${file.name}…`);
  const sha = sha256Hex(new Uint8Array(await file.arrayBuffer()));
  const query = $("upload-activate").checked ? "?activate=1" : "";
  await act(api("PUT", `/api/models/${encodeURIComponent(file.name)}${query}`,
                {body: file, headers: {"X-Content-Sha256": sha}, timeout: UPLOAD_TIMEOUT_MS}));
}

// SHA-256 in plain JS: crypto.subtle exists only on https or localhost pages, and the
// car is usually opened as http://192.168.x.y.
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);

function sha256Hex(bytes) {
  const ror = (x, n) => (x >>> n) | (x << (32 - n));
  const H = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                             0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const n = bytes.length;
  const padded = new Uint8Array(((n + 9 + 63) >> 6) << 6);
  padded.set(bytes);
  padded[n] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(n / 0x20000000));  // length in bits, high word
  view.setUint32(padded.length - 4, (n << 3) >>> 0);              // and low word
  const W = new Uint32Array(64);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = view.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const s0 = ror(W[i - 15], 7) ^ ror(W[i - 15], 18) ^ (W[i - 15] >>> 3);
      const s1 = ror(W[i - 2], 17) ^ ror(W[i - 2], 19) ^ (W[i - 2] >>> 10);
      W[i] = W[i - 16] + s0 + W[i - 7] + s1;
    }
    let [a, b, c, d, e, f, g, h] = H;
    for (let i = 0; i < 64; i++) {
      const t1 = (h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
      const t2 = ((ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
  }
  return Array.from(H, (x) => x.toString(16).padStart(8, "0")).join("");
}

// -- calibration ---------------------------------------------------------------
async function loadCalibration() {
  try {
    const {calibration, saved} = await api("GET", "/api/calibration");
    for (const [key, value] of Object.entries(calibration)) $("calibration-form").elements[key].value = value;
    $("calibration-saved").textContent = saved ? "" : "(DeepRacer defaults: not saved yet)";
  } catch (error) { say(error.message); }
}

async function saveCalibration(event) {
  event.preventDefault();
  const values = {};
  for (const input of $("calibration-form").querySelectorAll("input")) values[input.name] = Number(input.value);
  try {
    await api("PUT", "/api/calibration", {body: values});
    $("calibration-saved").textContent = "saved";
    say("");
  } catch (error) { say(error.message); }
}

// -- camera ------------------------------------------------------------------
function toggleCamera() {
  const img = $("camera");
  const show = img.hidden;
  img.hidden = !show;
  // Dropping the src closes the stream, so the car's camera is free when nobody watches.
  img.src = show ? `/camera.mjpg?t=${Date.now()}` : "";
  $("camera-toggle").textContent = show ? "Hide camera" : "Show camera";
}

// -- wiring ------------------------------------------------------------------
$("speed-cap").addEventListener("input", () => { $("speed-cap-value").textContent = Number($("speed-cap").value).toFixed(2); });
$("start").addEventListener("click", () => act(api("POST", "/api/start", {body: {max_speed: Number($("speed-cap").value)}})));
$("stop").addEventListener("click", () => act(api("POST", "/api/stop")));
$("estop").addEventListener("click", () => act(api("POST", "/api/estop")));
$("estop-clear").addEventListener("click", () => act(api("POST", "/api/estop/clear")));
$("rollback").addEventListener("click", () => act(api("POST", "/api/rollback")));
$("upload-form").addEventListener("submit", upload);
$("calibration-form").addEventListener("submit", saveCalibration);
$("camera-toggle").addEventListener("click", toggleCamera);
$("camera").addEventListener("error", () => { if (!$("camera").hidden) setTimeout(() => { toggleCamera(); toggleCamera(); }, 1000); });
$("logout").addEventListener("click", async () => { await fetch("/api/session", {method: "DELETE"}); location.reload(); });
pollStatus();
refreshModels();
loadCalibration();
