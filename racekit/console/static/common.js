// racekit console: shared helpers of the page's scripts (common.js first, console.js, which routes, last).
// Nothing is loaded from the network; curves are drawn on <canvas>.
"use strict";

const $ = (id) => document.getElementById(id);
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

function clearErrors(scope = document) {
  for (const node of scope.querySelectorAll(".field-error")) node.textContent = "";
}

// A refusal shown at its field: the element err-PREFIXFIELD, else the form's own err-PREFIXform.
function fieldError(field, message, prefix = "") {
  const slot = $("err-" + prefix + field) || $("err-" + prefix + "form");
  slot.textContent = message;
  const folded = slot.closest("details");
  if (folded) folded.open = true;  // a refusal is never hidden in a closed section
  slot.scrollIntoView({block: "center"});
}
