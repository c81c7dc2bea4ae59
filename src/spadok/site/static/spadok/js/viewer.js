// The record page's 3D viewer: picks a level of detail for the device, shows
// loading progress and errors, and exposes the state as data-state on the
// stage ("loading", "loaded", "error") for people and tests alike.

const stage = document.getElementById("viewer");
const viewer = document.getElementById("model");
const picker = document.querySelector("[data-viewer-lod]");
const rotate = document.querySelector("[data-viewer-rotate]");
const reset = document.querySelector("[data-viewer-reset]");
const status = document.getElementById("viewer-status");

function say(state) {
  stage.dataset.state = state;
  status.textContent = stage.dataset["msg" + state[0].toUpperCase() + state.slice(1)] || "";
}

// Phones and slow connections start with a lighter copy; desktops with the best.
function preferredRoles() {
  const connection = navigator.connection || {};
  if (connection.saveData) return ["web-low", "web-medium", "web-points", "web-high"];
  const small = window.matchMedia("(max-width: 48rem), (pointer: coarse)").matches;
  const lowMemory = navigator.deviceMemory !== undefined && navigator.deviceMemory <= 2;
  if (small || lowMemory) return ["web-medium", "web-low", "web-points", "web-high"];
  return ["web-high", "web-medium", "web-low", "web-points"];
}

function initialOption() {
  const options = Array.from(picker.options);
  for (const role of preferredRoles()) {
    const found = options.find((o) => o.dataset.role === role);
    if (found) return found;
  }
  return options[0];
}

function show(url) {
  if (viewer.getAttribute("src") === url) return;
  stage.dataset.loadedSrc = "";
  say("loading");
  viewer.setAttribute("src", url);
}

if (stage && viewer && picker && picker.options.length) {
  const bar = stage.querySelector(".viewer__progress");
  const fill = stage.querySelector(".viewer__progress-bar");

  viewer.addEventListener("progress", (event) => {
    const percent = Math.round(event.detail.totalProgress * 100);
    bar.setAttribute("aria-valuenow", String(percent));
    fill.style.transform = "scaleX(" + event.detail.totalProgress + ")";
    bar.classList.toggle("is-done", percent >= 100);
  });
  viewer.addEventListener("load", () => {
    stage.dataset.loadedSrc = viewer.getAttribute("src");
    say("loaded");
  });
  viewer.addEventListener("error", () => say("error"));

  picker.addEventListener("change", () => show(picker.value));

  rotate.addEventListener("click", () => {
    const on = !viewer.hasAttribute("auto-rotate");
    viewer.toggleAttribute("auto-rotate", on);
    rotate.setAttribute("aria-pressed", String(on));
  });
  reset.addEventListener("click", () => {
    viewer.cameraOrbit = "auto auto auto";
    viewer.cameraTarget = "auto auto auto";
    viewer.fieldOfView = "auto";
    if (viewer.jumpCameraToGoal) viewer.jumpCameraToGoal();
  });

  const first = initialOption();
  picker.value = first.value;
  show(first.value);
}
