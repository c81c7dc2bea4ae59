// The comparison page: follows the job while it runs, then shows the heat map,
// the two aligned captures side by side and one over the other with a split.
// Viewers that show the two captures turn together. Each stage exposes its
// state as data-state ("idle", "loading", "loaded", "error") for people and tests.
// Data comes from the <script type="application/json" id="comparison-data"> block (CSP).

const data = JSON.parse(document.getElementById("comparison-data")?.textContent || "{}");
const FINAL = new Set(["ready", "failed"]);

// -- live status while queued or running --------------------------------------------
function follow() {
  const root = document.querySelector("[data-comparison-status]");
  if (!root || FINAL.has(data.state) || !data.statusUrl) return;
  const stateEl = root.querySelector("[data-status-state]");
  const stepEl = root.querySelector("[data-status-step]");
  const bar = root.querySelector("[data-status-progress]");
  const percentEl = root.querySelector("[data-status-percent]");
  async function poll() {
    let status;
    try {
      const response = await fetch(data.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      status = await response.json();
    } catch (_) {
      window.setTimeout(poll, 2000);
      return;
    }
    const percent = Math.round((status.progress || 0) * 100);
    root.dataset.state = status.state;
    if (stateEl) stateEl.textContent = status.state_label || status.state;
    if (stepEl) stepEl.textContent = status.step_label || status.step || "—";
    if (bar) bar.value = percent;
    if (percentEl) percentEl.textContent = `${percent}%`;
    if (FINAL.has(status.state)) {
      window.location.reload();
      return;
    }
    window.setTimeout(poll, 2000);
  }
  window.setTimeout(poll, 2000);
}

// -- viewers --------------------------------------------------------------------------
const status = document.getElementById("compare-status");

function say(state) {
  if (!status) return;
  status.textContent = status.dataset["msg" + state[0].toUpperCase() + state.slice(1)] || "";
}

function stageOf(viewer) {
  return viewer.closest("[data-stage]");
}

function updateStage(stage) {
  const viewers = Array.from(stage.querySelectorAll("model-viewer"));
  const states = viewers.map((v) => v.dataset.state || "idle");
  let state = "loaded";
  if (states.includes("error")) state = "error";
  else if (states.includes("loading")) state = "loading";
  else if (states.includes("idle")) state = "idle";
  stage.dataset.state = state;
  if (state !== "idle") say(state);
}

function load(viewer) {
  if (viewer.getAttribute("src")) return;
  const url = data.models?.[viewer.dataset.model];
  if (!url) return;
  viewer.dataset.state = "loading";
  viewer.addEventListener("load", () => {
    viewer.dataset.state = "loaded";
    updateStage(stageOf(viewer));
  });
  viewer.addEventListener("error", () => {
    viewer.dataset.state = "error";
    updateStage(stageOf(viewer));
  });
  viewer.setAttribute("src", url);
  updateStage(stageOf(viewer));
}

// Two viewers of one frame turn together: a user's move in either is copied to the other.
function link(a, b) {
  function copy(from, to) {
    if (!from.loaded || !to.loaded) return;
    const orbit = from.getCameraOrbit();
    const target = from.getCameraTarget();
    to.cameraOrbit = `${orbit.theta}rad ${orbit.phi}rad ${orbit.radius}m`;
    to.cameraTarget = `${target.x}m ${target.y}m ${target.z}m`;
    to.fieldOfView = `${from.getFieldOfView()}deg`;
    to.jumpCameraToGoal();
  }
  for (const [from, to] of [[a, b], [b, a]]) {
    from.addEventListener("camera-change", (event) => {
      if (event.detail?.source === "user-interaction") copy(from, to);
    });
  }
  // Once both are loaded, the after view takes the before view's framing.
  const both = () => copy(a, b);
  a.addEventListener("load", () => b.loaded && both());
  b.addEventListener("load", () => a.loaded && both());
}

function setupLinks() {
  const groups = {};
  for (const viewer of document.querySelectorAll("model-viewer[data-link]")) {
    (groups[viewer.dataset.link] ||= []).push(viewer);
  }
  for (const viewers of Object.values(groups)) {
    if (viewers.length === 2) link(viewers[0], viewers[1]);
  }
}

// -- the split of the slider view -------------------------------------------------------
function setupSlider() {
  const stage = document.getElementById("slider-stage");
  const input = document.querySelector("[data-split-input]");
  if (!stage || !input) return;
  const top = stage.querySelector(".compare-slider__top");
  const line = stage.querySelector(".compare-slider__line");
  function apply() {
    const at = Number(input.value);
    stage.dataset.split = String(at);
    top.style.clipPath = `inset(0 0 0 ${at}%)`;
    line.style.left = `${at}%`;
  }
  input.addEventListener("input", apply);
  // Dragging the line itself moves the split too (the range input does it by keyboard).
  let dragging = false;
  line.addEventListener("pointerdown", (event) => {
    dragging = true;
    line.setPointerCapture(event.pointerId);
    event.preventDefault();
  });
  line.addEventListener("pointermove", (event) => {
    if (!dragging) return;
    const box = stage.getBoundingClientRect();
    const at = Math.max(0, Math.min(100, ((event.clientX - box.left) / box.width) * 100));
    input.value = String(Math.round(at));
    apply();
  });
  line.addEventListener("pointerup", () => { dragging = false; });
  apply();
}

// -- tabs -------------------------------------------------------------------------------
function show(name) {
  for (const tab of document.querySelectorAll("[data-tab]")) {
    const on = tab.dataset.tab === name;
    tab.setAttribute("aria-selected", String(on));
    tab.setAttribute("aria-pressed", String(on));
    tab.tabIndex = on ? 0 : -1;
  }
  for (const panel of document.querySelectorAll("[data-panel]")) {
    const on = panel.dataset.panel === name;
    panel.hidden = !on;
    if (on) panel.querySelectorAll("model-viewer").forEach(load);
  }
}

function setupTabs() {
  const tabs = Array.from(document.querySelectorAll("[data-tab]"));
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => show(tab.dataset.tab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = tabs[(i + step + tabs.length) % tabs.length];
      next.focus();
      show(next.dataset.tab);
    });
  });
}

follow();
if (document.querySelector("[data-panel]")) {
  setupTabs();
  setupLinks();
  setupSlider();
  show("heat");
}
