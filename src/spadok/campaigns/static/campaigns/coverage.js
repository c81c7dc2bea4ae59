// The national coverage map: regions coloured by how many of their sites have no
// public 3D record yet (darker: more to scan). The table on the page holds the
// same figures for those who do not use the map.
const L = window.L;
const el = document.getElementById("coverage-map");
const labels = JSON.parse(document.getElementById("coverage-labels").textContent);
const legend = document.getElementById("coverage-legend");
const status = document.getElementById("map-status");
const CLASSES = ["#fff4d6", "#ffd98a", "#f5a54a", "#d9652b", "#9c2f14"];
const UKRAINE = [[44.3, 22.1], [52.4, 40.2]];

function tag(name, attrs = {}, text = "") {
  const node = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function main() {
  const tiles = el.dataset.tileUrl || "";
  const map = L.map(el, { attributionControl: Boolean(tiles), minZoom: 4, maxZoom: 12, zoomSnap: 0.25 });
  map.fitBounds(UKRAINE);
  if (tiles) L.tileLayer(tiles, { maxZoom: 19, attribution: el.dataset.tileAttribution || "" }).addTo(map);
  else el.classList.add("campaign-map--plain");
  fetch(el.dataset.url)
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
    .then((data) => {
      const max = Math.max(1, ...data.features.map((f) => f.properties.without_3d));
      const step = Math.ceil(max / CLASSES.length);
      const colour = (n) => (n === 0 ? "#ffffff" : CLASSES[Math.min(CLASSES.length - 1, Math.floor((n - 1) / step))]);
      L.geoJSON(data, {
        style: (f) => ({ color: "#545c66", weight: 1, fillColor: colour(f.properties.without_3d), fillOpacity: tiles ? 0.6 : 1 }),
        onEachFeature: (f, layer) => {
          const p = f.properties;
          layer.bindTooltip(tag("span", {}, `${p.name}: ${labels.without} ${p.without_3d}, ${labels.with} ${p.with_3d}`), { sticky: true });
        },
      }).addTo(map);
      legend.replaceChildren(tag("h2", {}, labels.without));
      const list = tag("ul", { role: "list" });
      CLASSES.forEach((c, i) => {
        const item = tag("li");
        item.append(tag("span", { class: "swatch", style: `background:${c}`, "aria-hidden": "true" }), ` ${i * step + 1}–${(i + 1) * step}`);
        list.append(item);
      });
      legend.append(list);
      el.dataset.state = "loaded";
    })
    .catch(() => {
      el.dataset.state = "failed";
      status.textContent = labels.failed;
    });
}

if (el && L) main();
