// The map of sites: clustered markers from /api/sites.geojson for the visible box,
// coloured by damage and shaped by "has a 3D model", over region outlines coloured
// by a count (the choropleth). Tiles only when the archive configures a tile server;
// without them the region outlines are the base map.
const el = document.getElementById("sites-map");
const L = window.L;

const labels = JSON.parse(document.getElementById("map-labels").textContent);
const statusEl = document.getElementById("map-status");
const filters = document.getElementById("map-filters");
const legendEl = document.getElementById("choropleth-legend");
const UKRAINE = [[44.3, 22.1], [52.4, 40.2]];
const CLASSES = ["#eef3fb", "#c6d7ef", "#8fb0de", "#4f7fc4", "#1d4f97"];

function setStatus(text) {
  statusEl.textContent = text;
}

function tag(name, attrs = {}, text = "") {
  const node = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function markerIcon(props) {
  const damage = /^[a-z_]+$/.test(props.damage_status || "") ? props.damage_status : "none";
  const classes = ["site-marker", `site-marker--${damage}`];
  if (props.has_3d) classes.push("site-marker--3d");
  return L.divIcon({
    className: "",
    html: `<span class="${classes.join(" ")}"><span class="site-marker__glyph"></span></span>`,
    iconSize: [22, 22],
    iconAnchor: [11, 11],
    popupAnchor: [0, -10],
  });
}

function popup(props) {
  const box = tag("div", { class: "site-popup" });
  const title = tag("a", { href: props.url, class: "site-popup__name" }, props.name);
  box.append(title);
  const meta = tag("p", { class: "site-popup__meta" });
  meta.append(tag("span", {}, labels.types[props.type] || props.type));
  meta.append(tag("span", {}, labels.damage[props.damage_status] || ""));
  if (props.has_3d) meta.append(tag("span", { class: "tag" }, labels.has3d));
  box.append(meta);
  if (props.approximate) box.append(tag("p", { class: "muted small" }, labels.approximate));
  box.append(tag("a", { href: props.url, class: "site-popup__open" }, labels.open));
  return box;
}

function main() {
  const tiles = el.dataset.tileUrl || "";
  const map = L.map(el, { attributionControl: Boolean(tiles), minZoom: 4, maxZoom: 18, zoomSnap: 0.25 });
  map.fitBounds(UKRAINE);
  if (tiles) {
    L.tileLayer(tiles, { maxZoom: 19, attribution: el.dataset.tileAttribution || "" }).addTo(map);
  } else {
    el.classList.add("sites-map--plain");
  }

  // -- regions: outlines always, coloured by the chosen count --
  let regions = null;
  let regionData = null;
  const metric = () => filters.querySelector("input[name=choropleth]:checked")?.value || "";
  function breaks(values) {
    const max = Math.max(0, ...values);
    if (max === 0) return [];
    // Up to five classes of equal width; fewer when the counts are small.
    const n = Math.min(CLASSES.length, max);
    const step = Math.ceil(max / n);
    return [...new Set(Array.from({ length: n }, (_, i) => Math.min(max, (i + 1) * step)))];
  }
  // The darkest shades for the fewest classes: a single class is clearly "some".
  const shade = (i, n) => CLASSES[CLASSES.length - n + i];
  function drawRegions() {
    if (!regionData) return;
    const key = metric();
    const values = regionData.features.map((f) => f.properties[key] || 0);
    const limits = key ? breaks(values) : [];
    const colour = (n) => {
      if (!key || !limits.length) return "#f4f1e8";
      if (n === 0) return "#ffffff";
      const i = limits.findIndex((b) => n <= b);
      return shade(i === -1 ? limits.length - 1 : i, limits.length);
    };
    if (regions) regions.remove();
    regions = L.geoJSON(regionData, {
      style: (f) => ({ color: "#545c66", weight: 1, fillColor: colour(f.properties[key] || 0), fillOpacity: tiles ? 0.5 : 1 }),
      onEachFeature: (f, layer) => {
        const p = f.properties;
        // A node, not an HTML string: names come from published lists.
        layer.bindTooltip(tag("span", {}, `${p.name}: ${labels.sites} ${p.sites}, ${labels.damaged} ${p.damaged}, ${labels.with3d} ${p.with_3d}`), { sticky: true });
        layer.on("click", () => map.fitBounds(layer.getBounds()));
      },
    });
    regions.addTo(map);
    regions.bringToBack();
    legendEl.replaceChildren();
    if (key) {
      const name = { sites: labels.sites, damaged: labels.damaged, with_3d: labels.with3d }[key];
      legendEl.append(tag("h3", {}, name));
      const list = tag("ul", { role: "list" });
      const zero = tag("li");
      zero.append(tag("span", { class: "swatch", style: "background:#ffffff", "aria-hidden": "true" }), ` 0 (${labels.noData})`);
      list.append(zero);
      let low = 1;
      limits.forEach((high, i) => {
        const item = tag("li");
        item.append(tag("span", { class: "swatch", style: `background:${shade(i, limits.length)}`, "aria-hidden": "true" }), ` ${low}–${high}`);
        list.append(item);
        low = high + 1;
      });
      legendEl.append(list);
    }
  }
  fetch(`${el.dataset.regionsUrl}?lang=${encodeURIComponent(el.dataset.lang)}`)
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
    .then((data) => {
      regionData = data;
      drawRegions();
    })
    .catch(() => setStatus(labels.failed));

  // -- sites: clustered markers for the visible box --
  const cluster = L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 50 });
  cluster.addTo(map);
  let pending = null;
  let timer = 0;
  const byId = new Map();

  function query() {
    const b = map.getBounds().pad(0.1);
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    const bbox = [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)]
      .map((v) => v.toFixed(5))
      .join(",");
    const params = new URLSearchParams({ bbox, lang: el.dataset.lang });
    for (const name of ["type", "damage", "has_3d"]) {
      const value = filters.elements[name]?.value;
      if (value) params.set(name, value);
    }
    return `${el.dataset.sitesUrl}?${params}`;
  }

  async function loadSites() {
    if (pending) pending.abort();
    pending = new AbortController();
    setStatus(labels.loading);
    el.dataset.state = "loading";
    try {
      const response = await fetch(query(), { signal: pending.signal });
      const body = await response.json();
      cluster.clearLayers();
      byId.clear();
      if (!response.ok) {
        setStatus(body.error?.code === "map.too_many_features" ? labels.tooMany : `${labels.failed} (${body.error?.message || response.status})`);
        el.dataset.state = "too-many";
        return;
      }
      const markers = body.features.map((f) => {
        const [lon, lat] = f.geometry.coordinates;
        const marker = L.marker([lat, lon], { icon: markerIcon(f.properties), title: f.properties.name, alt: f.properties.name, keyboard: true });
        marker.bindPopup(() => popup(f.properties));
        byId.set(f.properties.id, marker);
        return marker;
      });
      cluster.addLayers(markers);
      setStatus(labels.shown.replace("%(n)s", String(markers.length)));
      el.dataset.state = "loaded";
      el.dataset.count = String(markers.length);
      openFromHash();
    } catch (err) {
      if (err.name === "AbortError") return;
      setStatus(labels.failed);
      el.dataset.state = "failed";
    }
  }

  function openFromHash() {
    const id = decodeURIComponent(location.hash.slice(1));
    const marker = id && byId.get(id);
    if (!marker) return;
    history.replaceState(null, "", location.pathname + location.search);
    cluster.zoomToShowLayer(marker, () => marker.openPopup());
  }

  map.on("moveend", () => {
    clearTimeout(timer);
    timer = setTimeout(loadSites, 250);
  });
  filters.addEventListener("change", (event) => {
    if (event.target.name === "choropleth") drawRegions();
    else loadSites();
  });
  filters.addEventListener("submit", (event) => event.preventDefault());
  loadSites();
  el.spadokMap = map;
}

if (el && L && L.markerClusterGroup) main();
