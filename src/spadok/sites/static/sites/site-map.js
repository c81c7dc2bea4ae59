// The site page's small map: the public point (a circle when it is approximate),
// over the region outlines when no tile server is configured.
const el = document.getElementById("site-map");
const L = window.L;

if (el && L) {
  const lat = Number(el.dataset.lat);
  const lon = Number(el.dataset.lon);
  const precision = Number(el.dataset.precision || 0);
  const tiles = el.dataset.tileUrl || "";
  const map = L.map(el, { attributionControl: Boolean(tiles), zoomControl: true, scrollWheelZoom: false });
  if (tiles) {
    L.tileLayer(tiles, { maxZoom: 19, attribution: el.dataset.tileAttribution || "" }).addTo(map);
  } else {
    el.classList.add("sites-map--plain");
    fetch(el.dataset.regions)
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => {
        if (data) L.geoJSON(data, { style: { color: "#545c66", weight: 1, fillColor: "#f4f1e8", fillOpacity: 1 }, interactive: false }).addTo(map).bringToBack();
        el.dataset.state = "loaded";
      })
      .catch(() => {
        el.dataset.state = "loaded";
      });
  }
  if (precision > 0) {
    const circle = L.circle([lat, lon], { radius: precision, color: "#0b4ea2", weight: 2, fillOpacity: 0.15 }).addTo(map);
    map.fitBounds(circle.getBounds());
  } else {
    L.circleMarker([lat, lon], { radius: 8, color: "#083a78", weight: 3, fillColor: "#0b4ea2", fillOpacity: 0.9 }).addTo(map);
    map.setView([lat, lon], tiles ? 15 : 7);
  }
  if (tiles) el.dataset.state = "loaded";
}
