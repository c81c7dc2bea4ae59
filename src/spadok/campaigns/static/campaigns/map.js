// Campaign maps without tiles (unless the archive configures a tile server): region
// outlines as the base map, then either a campaign's targets coloured by status
// ([data-campaign-map], from its GeoJSON) or the tasks near a volunteer
// ([data-next-map], from the page's JSON), where the volunteer's location comes
// from the browser or a click on the map and is sent with the place form.
const L = window.L;
const labelsEl = document.getElementById("campaign-labels");
const labels = labelsEl ? JSON.parse(labelsEl.textContent) : {};
const UKRAINE = [[44.3, 22.1], [52.4, 40.2]];

function tag(name, attrs = {}, text = "") {
  const node = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function baseMap(el) {
  const tiles = el.dataset.tileUrl || "";
  const map = L.map(el, { attributionControl: Boolean(tiles), minZoom: 4, maxZoom: 18, zoomSnap: 0.25 });
  map.fitBounds(UKRAINE);
  if (tiles) {
    L.tileLayer(tiles, { maxZoom: 19, attribution: el.dataset.tileAttribution || "" }).addTo(map);
  } else {
    el.classList.add("campaign-map--plain");
  }
  if (el.dataset.regionsUrl) {
    fetch(el.dataset.regionsUrl)
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then((data) => {
        const layer = L.geoJSON(data, {
          style: () => ({ color: "#545c66", weight: 1, fillColor: "#f4f1e8", fillOpacity: tiles ? 0.2 : 1 }),
          interactive: false,
        });
        layer.addTo(map);
        layer.bringToBack();
      })
      .catch(() => {});
  }
  return map;
}

function statusIcon(status, extra = "") {
  const safe = /^[a-z]+$/.test(status || "") ? status : "open";
  return L.divIcon({
    className: "",
    html: `<span class="task-marker task-marker--${safe} ${extra}"></span>`,
    iconSize: [18, 18],
    iconAnchor: [9, 9],
    popupAnchor: [0, -8],
  });
}

function popup(name, url, detail) {
  const box = tag("div", { class: "task-popup" });
  box.append(url ? tag("a", { href: url }, name) : tag("strong", {}, name));
  if (detail) box.append(tag("p", { class: "muted small" }, detail));
  return box;
}

function campaignMap(el) {
  const map = baseMap(el);
  const status = document.getElementById("map-status");
  const markers = L.featureGroup().addTo(map);
  fetch(el.dataset.url, { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
    .then((data) => {
      const counts = {};
      for (const f of data.features) {
        const [lon, lat] = f.geometry.coordinates;
        const p = f.properties;
        counts[p.status] = (counts[p.status] || 0) + 1;
        const label = labels.statuses?.[p.status] || p.status;
        const m = L.marker([lat, lon], { icon: statusIcon(p.status), title: `${p.name}: ${label}`, alt: `${p.name}: ${label}`, keyboard: true });
        m.bindPopup(() => popup(p.name, p.url, p.approximate ? `${label} · ${labels.approximate}` : label));
        markers.addLayer(m);
      }
      if (data.features.length) map.fitBounds(markers.getBounds().pad(0.2), { maxZoom: 12 });
      el.dataset.state = "loaded";
      el.dataset.count = String(data.features.length);
      for (const [k, v] of Object.entries(counts)) el.dataset[`status${k[0].toUpperCase()}${k.slice(1)}`] = String(v);
      if (status) status.textContent = "";
    })
    .catch(() => {
      el.dataset.state = "failed";
      if (status) status.textContent = labels.failed || "";
    });
}

function nextMap(el) {
  const map = baseMap(el);
  const data = JSON.parse(document.getElementById("next-data").textContent);
  const form = document.querySelector("[data-place-form]");
  const status = document.getElementById("place-status");
  const group = L.featureGroup().addTo(map);
  for (const t of data.tasks) {
    const m = L.marker([t.lat, t.lon], { icon: statusIcon(t.status || (t.mine ? "claimed" : "open")), title: t.name, alt: t.name, keyboard: true });
    const detail = [t.distance_km != null ? `${t.distance_km} ${labels.km}` : "", t.approximate ? labels.approximate : ""].filter(Boolean).join(" · ");
    m.bindPopup(() => popup(t.name, t.url, detail));
    group.addLayer(m);
  }
  if (data.place) {
    L.circleMarker(data.place, { radius: 7, color: "#0b4ea2", weight: 3, fillColor: "#ffd43b", fillOpacity: 1 })
      .bindTooltip(labels.you || "")
      .addTo(group);
  }
  if (group.getLayers().length) map.fitBounds(group.getBounds().pad(0.2), { maxZoom: 13 });
  el.dataset.state = "loaded";
  el.dataset.count = String(data.tasks.length);
  if (!form || "static" in el.dataset) return;

  const send = (lat, lon) => {
    form.elements.lat.value = lat.toFixed(5);
    form.elements.lon.value = lon.toFixed(5);
    if (form.elements.settlement) form.elements.settlement.value = "";
    form.submit();
  };
  map.on("click", (e) => send(e.latlng.lat, e.latlng.lng));
  form.querySelector("[data-locate]")?.addEventListener("click", () => {
    if (!navigator.geolocation) {
      status.textContent = labels.denied || "";
      return;
    }
    status.textContent = labels.locating || "";
    navigator.geolocation.getCurrentPosition(
      (pos) => send(pos.coords.latitude, pos.coords.longitude),
      () => {
        status.textContent = labels.denied || "";
      },
      { enableHighAccuracy: false, timeout: 15000, maximumAge: 600000 },
    );
  });
  form.elements.settlement?.addEventListener("input", () => {
    form.elements.lat.value = "";
    form.elements.lon.value = "";
  });
}

if (L) {
  for (const el of document.querySelectorAll("[data-campaign-map]")) campaignMap(el);
  for (const el of document.querySelectorAll("[data-next-map]")) nextMap(el);
}
