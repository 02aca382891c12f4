// The models list (#/).
"use strict";

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

// Import: the file's bytes as they are (application/octet-stream), its name and the model's in the query.
async function importModel(event) {
  event.preventDefault();
  clearErrors($("import-form"));
  const file = $("import-file").files[0];
  if (!file) { fieldError("file", "file: choose a model file (.onnx) or a DeepRacer model (.tar.gz)", "import-"); return; }
  $("import").disabled = true;
  $("import-result").textContent = `Uploading and reading ${file.name} (${(file.size / 1e6).toFixed(1)} MB)...`;
  const query = `?name=${encode($("import-name").value)}&filename=${encode(file.name)}`;
  let data;
  try {
    const response = await fetch("/api/models/import" + query,
      {method: "POST", headers: {"Content-Type": "application/octet-stream"}, body: file});
    data = await response.json();
  } catch (e) {
    data = {error: "the upload failed: " + e};
  }
  $("import").disabled = false;
  $("import-result").textContent = "";
  if (data.error) { fieldError(data.field || "form", data.error, "import-"); return; }
  $("import-form").reset();
  location.hash = "#/model/" + data.id;
}
