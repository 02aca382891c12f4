// racekit console: one page, four views (#/ models, #/create, #/model/ID, #/leaderboard), all over the
// console's JSON API (common.js, models.js, create.js, model.js, evaluate.js hold the views).
"use strict";

function route() {
  clearInterval(timer);
  for (const view of ["front", "chase"]) stopImage($("live-" + view));
  const hash = location.hash || "#/";
  const view = hash.startsWith("#/model/") ? "model" : hash.startsWith("#/create") ? "create"
             : hash === "#/leaderboard" ? "leaderboard" : "models";
  for (const name of ["models", "create", "model", "leaderboard"]) $("page-" + name).hidden = name !== view;
  for (const name of ["models", "create", "leaderboard"]) $("nav-" + name).classList.toggle("current", name === view);
  if (view === "models") { showModels(); timer = setInterval(showModels, 3000); }
  if (view === "model") {
    const id = decodeURIComponent(hash.slice("#/model/".length));
    $("model-message").textContent = "";
    showModel(id); timer = setInterval(() => showModel(id), 2000);
  }
  if (view === "create") showCreate(hash.startsWith("#/create/from/") ? decodeURIComponent(hash.slice(14)) : null);
  if (view === "leaderboard" && $("leaderboard").getAttribute("src") !== "/leaderboard") $("leaderboard").src = "/leaderboard";
}

window.addEventListener("hashchange", route);
setUpModelButtons();
setUpCar();
$("import-form").addEventListener("submit", importModel);
api("/api/tracks").then((tracks) => Promise.all([setUpCreate(tracks), setUpEvaluate(tracks)])).then(route);
