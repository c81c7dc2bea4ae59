// The capture page: follow processing live. Polls the status URL every 2 s and
// updates the step and progress; at "ready" or "failed" it reloads the page once,
// which then shows the result (and, on failure, what to do). No inline script (CSP).
(() => {
  const root = document.querySelector("[data-capture-status]");
  if (!root || root.dataset.polling !== "true") return;
  const url = root.dataset.statusUrl;
  const stepEl = root.querySelector("[data-status-step]");
  const stateEl = root.querySelector("[data-status-state]");
  const bar = root.querySelector("[data-status-progress]");
  const percentEl = root.querySelector("[data-status-percent]");
  const FINAL = new Set(["ready", "failed"]);

  async function poll() {
    let status;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      status = await response.json();
    } catch (_) {
      window.setTimeout(poll, 2000); // a dropped connection: try again
      return;
    }
    const percent = Math.round((status.progress || 0) * 100);
    root.dataset.state = status.state;
    if (stateEl) stateEl.textContent = status.state_label || status.state;
    if (stepEl) stepEl.textContent = status.step || "—";
    if (bar) bar.value = percent;
    if (percentEl) percentEl.textContent = `${percent}%`;
    if (FINAL.has(status.state)) {
      window.location.reload();
      return;
    }
    window.setTimeout(poll, 2000);
  }
  window.setTimeout(poll, 2000);
})();
