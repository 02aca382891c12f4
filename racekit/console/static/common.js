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

// Object avoidance's fixed boxes, in both the create and the race form: a table's rows of a place (fraction
// of the lap from the start line) and a lane; `changed` is called when a row goes.
const DEFAULT_POSITIONS = [{fraction: 0.25, lane: "left"}, {fraction: 0.5, lane: "right"}, {fraction: 0.75, lane: "left"}];

function positionRow(table, fraction, lane, changed) {
  const at = el("input", {type: "number", class: "fraction", min: "0", max: "1", step: "0.01", value: String(fraction)});
  const side = el("select", {class: "lane"}, el("option", {value: "left", text: "left"}),
                  el("option", {value: "right", text: "right"}));
  side.value = lane === "right" ? "right" : "left";
  const remove = el("button", {type: "button", class: "danger", text: "Remove"});
  const row = el("tr", {}, el("td", {class: "index"}), el("td", {}, at), el("td", {}, side), el("td", {}, remove));
  remove.addEventListener("click", () => { row.remove(); numberPositions(table); if (changed) changed(); });
  return row;
}

function numberPositions(table) {
  [...table.tBodies[0].rows].forEach((row, i) => { row.cells[0].textContent = String(i + 1); });
}

function setPositionRows(table, rows, changed) {
  table.tBodies[0].replaceChildren(...rows.map((p) => positionRow(table, p.fraction, p.lane, changed)));
  numberPositions(table);
}

function positionRows(table) {
  return [...table.tBodies[0].rows].map((row) => ({fraction: row.querySelector(".fraction").value,
                                                   lane: row.querySelector(".lane").value}));
}

// The placement's own settings: the box count when random, the rows when fixed.
function showPlacement(group, placement) {
  group.querySelector(".random-boxes").hidden = placement === "fixed";
  group.querySelector(".fixed-boxes").hidden = placement !== "fixed";
}
