// The capture form's site picker, enhanced: the page works as plain forms without it
// (a GET search, radio buttons, the "new site" fields). With it, the search answers as
// you type, the sites near a point you click on the map are listed, and the registry's
// sites are drawn on the capture map (click one, then "This site"). No inline script:
// everything comes from data attributes on [data-site-picker] (strict CSP).
const picker = document.querySelector("[data-site-picker]");

if (picker) {
  const data = picker.dataset;
  const options = picker.querySelector("[data-site-options]");
  const foundBox = picker.querySelector("[data-sites-found]");
  const newFields = picker.querySelector("[data-site-new-fields]");
  const searchForm = document.querySelector("[data-site-search]");
  const searchInput = searchForm?.querySelector("input[type=search]");

  // -- the "describe a new site" fields show only when that choice is made
  const syncNew = () => {
    const chosen = picker.querySelector("input[name=site]:checked");
    if (newFields) newFields.hidden = !(chosen && chosen.hasAttribute("data-site-new"));
  };
  picker.addEventListener("change", syncNew);
  syncNew();

  // -- one radio button per site, as the template makes them
  const place = (o) => [o.settlement, o.region].filter(Boolean).join(", ");
  function optionFor(o, kind) {
    const label = document.createElement("label");
    label.className = "site-option";
    label.dataset.siteOption = o.id;
    if (kind) label.setAttribute(`data-site-${kind}`, "");
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "site";
    input.value = o.id;
    const name = document.createElement("strong");
    name.textContent = o.name;
    label.append(input, " ", name);
    const where = place(o);
    if (where) label.append(` · ${where}`);
    const notes = [];
    if (o.distance_m != null) notes.push(`${o.distance_m} ${data.labelMetres || "m"}`);
    if (o.approximate) notes.push(data.labelApproximate || "approximate place");
    if (notes.length) {
      const small = document.createElement("span");
      small.className = "muted small";
      small.textContent = ` ${notes.join(", ")}`;
      label.append(small);
    }
    return label;
  }

  const checkedValue = () => picker.querySelector("input[name=site]:checked")?.value ?? "";
  function choose(o) {
    let label = options.querySelector(`[data-site-option="${CSS.escape(o.id)}"]`);
    if (!label) {
      label = optionFor(o, "picked");
      options.prepend(label);
    }
    label.querySelector("input").checked = true;
    syncNew();
    label.scrollIntoView({ block: "nearest" });
  }

  async function ask(params) {
    const url = new URL(data.sitesUrl, window.location.href);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const r = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!r.ok) throw new Error(String(r.status));
    return r.json();
  }

  // -- search as you type (the GET form still works when this fails)
  function showFound(found, query) {
    if (!foundBox) return;
    const keep = checkedValue();
    foundBox.replaceChildren();
    if (found.length) {
      for (const o of found) {
        if (options.querySelector(`[data-site-option="${CSS.escape(o.id)}"]:not([data-site-found])`)) continue;
        const label = optionFor(o, "found");
        if (o.id === keep) label.querySelector("input").checked = true;
        foundBox.append(label);
      }
    } else if (query.trim().length >= 2) {
      const p = document.createElement("p");
      p.className = "muted";
      p.dataset.sitesNone = "";
      p.textContent = data.labelNoneFound || "";
      foundBox.append(p);
    }
  }
  let timer = 0;
  let asked = 0;
  async function search() {
    const query = searchInput.value;
    const n = ++asked;
    try {
      const answer = await ask({ q: query });
      if (n === asked) showFound(answer.found, query);
    } catch (_) {
      // keep what is shown; the plain form still searches
    }
  }
  if (searchForm && searchInput) {
    searchForm.addEventListener("submit", (event) => {
      event.preventDefault();
      search();
    });
    searchInput.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(search, 250);
    });
  }

  // -- sites near a point set on the map
  function showNear(near) {
    for (const old of options.querySelectorAll("[data-site-near]")) {
      if (!old.querySelector("input").checked) old.remove();
    }
    const anchor = options.querySelector("[data-sites-found]") || options.firstChild;
    for (const o of near) {
      if (options.querySelector(`[data-site-option="${CSS.escape(o.id)}"]`)) continue;
      options.insertBefore(optionFor(o, "near"), anchor);
    }
  }
  const mapEl = document.getElementById("capture-map");
  mapEl?.addEventListener("spadok:point", async (event) => {
    try {
      const answer = await ask({ lat: event.detail.lat, lon: event.detail.lon });
      showNear(answer.near);
    } catch (_) {
      // the list stays as it was
    }
  });

  // -- the registry's sites on the capture map
  function drawSites(map) {
    if (typeof L === "undefined" || !data.geojsonUrl) return;
    const layer = L.layerGroup().addTo(map);
    let pending = 0;
    async function load() {
      layer.clearLayers();
      if (map.getZoom() < 9) return; // the whole country is too many points to send
      const b = map.getBounds();
      const url = new URL(data.geojsonUrl, window.location.href);
      url.searchParams.set("bbox", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(","));
      const n = ++pending;
      try {
        const r = await fetch(url, { headers: { Accept: "application/geo+json" } });
        if (!r.ok || n !== pending) return;
        const collection = await r.json();
        for (const f of collection.features || []) {
          const [x, y] = f.geometry.coordinates;
          const p = f.properties || {};
          const dot = L.circleMarker([y, x], { radius: 7, weight: 2, className: "site-dot" });
          const box = document.createElement("div");
          const title = document.createElement("strong");
          title.textContent = p.name || p.id;
          const button = document.createElement("button");
          button.type = "button";
          button.className = "button button--quiet";
          button.textContent = data.labelPick || "This site";
          button.dataset.pickSite = p.id;
          button.addEventListener("click", () => {
            choose({ id: p.id, name: p.name || p.id, approximate: Boolean(p.approximate) });
            map.closePopup();
          });
          box.append(title, document.createElement("br"), button);
          dot.bindPopup(box);
          dot.on("click", (event) => L.DomEvent.stopPropagation(event)); // not a new capture point
          dot.addTo(layer);
        }
      } catch (_) {
        // no sites drawn: search and the nearby list still work
      }
    }
    map.on("moveend", load);
    load();
  }
  if (mapEl?.spadokMap) drawSites(mapEl.spadokMap);
  else mapEl?.addEventListener("spadok:map-ready", (event) => drawSites(event.detail.map), { once: true });
}
