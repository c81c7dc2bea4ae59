// The capture form's map: a click sets the point (latitude, longitude, source "map").
// Leaflet (vendor/leaflet) draws it; with no tile URL configured the map is a plain
// background with a graticule-free view of the coordinates: it still takes clicks.
(() => {
  const el = document.getElementById("capture-map");
  if (!el || typeof L === "undefined") return;
  const form = el.closest("form") || document;
  const lat = form.querySelector("[data-map-lat]");
  const lon = form.querySelector("[data-map-lon]");
  const precision = form.querySelector("[data-map-precision]");
  const source = form.querySelector("[data-map-source]");
  const tiles = el.dataset.tileUrl || "";

  const start = lat && lon && lat.value && lon.value ? [Number(lat.value), Number(lon.value)] : [48.5, 31.2];
  const map = L.map(el, { worldCopyJump: true, attributionControl: Boolean(tiles) }).setView(start, lat && lat.value ? 15 : 5);
  if (tiles) {
    L.tileLayer(tiles, { maxZoom: 19, attribution: el.dataset.tileAttribution || "" }).addTo(map);
  } else {
    el.classList.add("map--plain");
  }
  let marker = lat && lat.value ? L.marker(start).addTo(map) : null;
  // capture-site.js draws the registry's sites on the same map.
  el.spadokMap = map;
  el.dispatchEvent(new CustomEvent("spadok:map-ready", { detail: { map } }));

  map.on("click", (event) => {
    const { lat: y, lng: x } = event.latlng.wrap();
    if (marker) marker.setLatLng([y, x]);
    else marker = L.marker([y, x]).addTo(map);
    if (lat) lat.value = y.toFixed(6);
    if (lon) lon.value = x.toFixed(6);
    if (source) source.value = "map";
    // The point is as good as the zoom: about the width of a few pixels on the ground.
    if (precision) precision.value = String(Math.max(5, Math.round(156543 * Math.cos((y * Math.PI) / 180) / 2 ** map.getZoom() * 10)));
    el.dataset.picked = `${y.toFixed(6)},${x.toFixed(6)}`;
    el.dispatchEvent(new CustomEvent("spadok:point", { detail: { lat: y, lon: x } }));
  });
  for (const input of [lat, lon]) {
    input?.addEventListener("change", () => {
      if (source) source.value = "map";
    });
  }
})();
