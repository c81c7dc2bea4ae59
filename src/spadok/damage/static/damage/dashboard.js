// The damage dashboard's choropleth: Ukraine's regions (the outlines from
// /api/regions.geojson) coloured by the number of damaged sites, verified by
// UNESCO or reported only, one measure at a time. The figures come from the
// page itself (the same rows as the table under the map, in a JSON data block);
// the table stays the accessible, complete version.
const el = document.getElementById("damage-map");
const L = window.L;

if (el && L) {
  const rows = JSON.parse(document.getElementById("damage-regions").textContent);
  const labels = JSON.parse(document.getElementById("damage-map-labels").textContent);
  const controls = document.getElementById("damage-map-controls");
  const legendEl = document.getElementById("damage-map-legend");
  const statusEl = document.getElementById("damage-map-status");
  const byCode = new Map(rows.map((r) => [r.region, r]));
  // Blue for verified, orange for reported only: told apart by the legend's words too.
  const SCALES = {
    verified_sites: ["#dbe6f6", "#a9c3ea", "#6f97d6", "#3a69b8", "#0b3f86"],
    reported_only_sites: ["#fbe3cf", "#f5bd8e", "#ec8f4e", "#cc5f1c", "#8f3a07"],
  };
  const UKRAINE = [[44.3, 22.1], [52.4, 40.2]];
  const tiles = el.dataset.tileUrl || "";
  const map = L.map(el, { attributionControl: Boolean(tiles), minZoom: 4, maxZoom: 10, zoomSnap: 0.25, scrollWheelZoom: false });
  map.fitBounds(UKRAINE);
  if (tiles) {
    L.tileLayer(tiles, { maxZoom: 19, attribution: el.dataset.tileAttribution || "" }).addTo(map);
  } else {
    el.classList.add("sites-map--plain");
  }

  const tag = (name, attrs = {}, text = "") => {
    const node = document.createElement(name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text) node.textContent = text;
    return node;
  };
  const measure = () => controls.querySelector("input[name=measure]:checked")?.value || "verified_sites";
  function breaks(values, n) {
    const max = Math.max(0, ...values);
    if (max === 0) return [];
    const classes = Math.min(n, max);
    const step = Math.ceil(max / classes);
    return [...new Set(Array.from({ length: classes }, (_, i) => Math.min(max, (i + 1) * step)))];
  }

  let layer = null;
  let outlines = null;
  function draw() {
    if (!outlines) return;
    const key = measure();
    const scale = SCALES[key];
    // The classes are made from the regions on the map (not from "region not known").
    const shown = new Set(outlines.features.map((f) => f.id));
    const values = rows.filter((r) => shown.has(r.region)).map((r) => r[key] || 0);
    const limits = breaks(values, scale.length);
    const shade = (i) => scale[scale.length - limits.length + i];
    const colour = (n) => {
      if (!n || !limits.length) return "#ffffff";
      const i = limits.findIndex((b) => n <= b);
      return shade(i === -1 ? limits.length - 1 : i);
    };
    if (layer) layer.remove();
    layer = L.geoJSON(outlines, {
      style: (f) => ({ color: "#545c66", weight: 1, fillColor: colour((byCode.get(f.id) || {})[key] || 0), fillOpacity: tiles ? 0.6 : 1 }),
      onEachFeature: (f, region) => {
        const row = byCode.get(f.id) || { name: f.properties.name, verified_sites: 0, reported_only_sites: 0 };
        // A node, not an HTML string: the names come from published lists.
        region.bindTooltip(tag("span", {}, `${row.name}: ${labels.verified_sites} ${row.verified_sites}; ${labels.reported_only_sites} ${row.reported_only_sites}`), { sticky: true });
        region.on("click", () => {
          const line = document.querySelector(`#table-by-region tr[data-region="${CSS.escape(f.id)}"]`);
          if (line) line.scrollIntoView({ block: "center" });
        });
      },
    });
    layer.addTo(map);
    legendEl.replaceChildren(tag("h3", {}, labels[key]));
    const list = tag("ul", { role: "list" });
    const zero = tag("li");
    zero.append(tag("span", { class: "swatch", style: "background:#ffffff", "aria-hidden": "true" }), ` 0 (${labels.none})`);
    list.append(zero);
    let low = 1;
    limits.forEach((high, i) => {
      const item = tag("li");
      item.append(tag("span", { class: "swatch", style: `background:${shade(i)}`, "aria-hidden": "true" }), ` ${low === high ? high : `${low}–${high}`}`);
      list.append(item);
      low = high + 1;
    });
    legendEl.append(list);
    el.dataset.measure = key;
  }

  controls.addEventListener("change", draw);
  fetch(`${el.dataset.regionsUrl}?lang=${encodeURIComponent(el.dataset.lang)}`)
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
    .then((data) => {
      outlines = data;
      if (!data.features.length) statusEl.textContent = labels.noOutlines;
      draw();
      el.dataset.state = "loaded";
    })
    .catch(() => {
      statusEl.textContent = labels.failed;
      el.dataset.state = "failed";
    });
}
