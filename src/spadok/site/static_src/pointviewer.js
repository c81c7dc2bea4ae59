// The record page's streaming point-cloud viewer (see docs/adr/0013-point-cloud-tiles.md).
//
// Loads the octree index (web-lod), draws the root tile at once, then asks for
// the tiles (byte ranges of web-lod-data) whose points would be more than about
// a pixel apart on the screen, nearest first, within a point budget suited to
// the device. Tiles out of view or no longer needed are dropped when the
// budget is full. State for people and tests: data-state on the stage
// ("loading", "loaded", "error", "nowebgl"), data-tiles-requested,
// data-tiles-loaded and data-points-shown.
//
// Bundled with three.js by esbuild (see the Makefile); no inline script.

import {
  BufferAttribute,
  BufferGeometry,
  Box3,
  Color,
  Frustum,
  Group,
  Matrix4,
  PerspectiveCamera,
  Points,
  PointsMaterial,
  Scene,
  Sphere,
  Vector3,
  WebGLRenderer,
} from "three";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";

const FORMAT = "spadok-point-octree";
const MAX_REQUESTS = 4; // tiles in flight at once
const REFINE_PIXELS = 1.5; // refine a node whose point spacing exceeds this on screen

const stage = document.getElementById("pointviewer");

function say(state, extra) {
  stage.dataset.state = state;
  const status = stage.querySelector("[data-pv-status]");
  const key = "msg" + state[0].toUpperCase() + state.slice(1);
  if (status) status.textContent = (stage.dataset[key] || "") + (extra ? " " + extra : "");
}

function hasWebGL2() {
  try {
    const canvas = document.createElement("canvas");
    return Boolean(window.WebGL2RenderingContext && canvas.getContext("webgl2"));
  } catch (_err) {
    return false;
  }
}

// Phones and slow connections get a smaller budget; desktops a larger one.
function pointBudget() {
  const connection = navigator.connection || {};
  if (connection.saveData) return Number(stage.dataset.budgetSave || 500000);
  const small = window.matchMedia("(max-width: 48rem), (pointer: coarse)").matches;
  const lowMemory = navigator.deviceMemory !== undefined && navigator.deviceMemory <= 4;
  if (small || lowMemory) return Number(stage.dataset.budgetPhone || 1000000);
  return Number(stage.dataset.budgetDesktop || 3000000);
}

// A binary max-heap of {node, weight}: the next node to look at is the most detailed on screen.
class Heap {
  constructor() {
    this.items = [];
  }
  get size() {
    return this.items.length;
  }
  push(item) {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (a[up].weight >= a[i].weight) break;
      [a[up], a[i]] = [a[i], a[up]];
      i = up;
    }
  }
  pop() {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < a.length && a[l].weight > a[best].weight) best = l;
        if (r < a.length && a[r].weight > a[best].weight) best = r;
        if (best === i) break;
        [a[best], a[i]] = [a[i], a[best]];
        i = best;
      }
    }
    return top;
  }
}

class Viewer {
  constructor(index, dataUrl) {
    this.index = index;
    this.dataUrl = dataUrl;
    this.budget = pointBudget();
    this.requested = 0;
    this.loadedCount = 0;
    this.inFlight = 0;
    this.queue = [];
    this.frame = 0;
    this.dirty = true;
    this.firstDrawn = false;

    this.nodes = new Map();
    for (const meta of index.nodes) {
      const [depth, x, y, z] = meta.key.split("-").map(Number);
      this.nodes.set(meta.key, {
        meta,
        depth,
        x,
        y,
        z,
        spacing: index.cube.size / index.grid / 2 ** depth,
        state: meta.points ? "none" : "empty",
        points: null,
        box: new Box3(new Vector3(...meta.bounds[0]), new Vector3(...meta.bounds[1])),
        worldBox: new Box3(),
        used: 0,
      });
    }
    this.root = this.nodes.get("0-0-0-0");

    this.renderer = new WebGLRenderer({ antialias: false, powerPreference: "high-performance" });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.canvas = this.renderer.domElement;
    this.canvas.className = "pointviewer__canvas";
    this.canvas.setAttribute("aria-hidden", "true");
    stage.querySelector("[data-pv-canvas]").appendChild(this.canvas);

    this.scene = new Scene();
    this.scene.background = new Color(0xf5f5f2);
    this.group = new Group();
    if (index.up === "Z") this.group.rotation.x = -Math.PI / 2; // glTF and three are Y-up
    this.scene.add(this.group);
    this.group.updateMatrixWorld(true);
    for (const node of this.nodes.values()) {
      node.worldBox.copy(node.box).applyMatrix4(this.group.matrixWorld);
    }

    const size = index.cube.size;
    this.camera = new PerspectiveCamera(50, 1, size / 10000, size * 20);
    const bounds = new Box3(new Vector3(...index.bounds[0]), new Vector3(...index.bounds[1]));
    bounds.applyMatrix4(this.group.matrixWorld);
    const centre = bounds.getCenter(new Vector3());
    const radius = bounds.getBoundingSphere(new Sphere()).radius || size / 2;
    this.home = { centre, radius, dir: new Vector3(0.55, 0.6, 0.85).normalize() };

    this.controls = new OrbitControls(this.camera, this.canvas);
    this.controls.enableDamping = true;
    this.controls.dampingFactor = 0.12;
    this.controls.screenSpacePanning = true;
    this.controls.listenToKeyEvents(stage);
    this.controls.addEventListener("change", () => this.changed());

    this.material = new PointsMaterial({ size: 2, sizeAttenuation: false, vertexColors: true });
    this.resize();
    this.reset();
    new ResizeObserver(() => this.resize()).observe(stage);
    this.canvas.addEventListener("webglcontextlost", (event) => {
      event.preventDefault();
      say("error");
    });
    this.loop = this.loop.bind(this);
    requestAnimationFrame(this.loop);
  }

  // The whole cloud in view, from above at three quarters, on a wide or a tall screen.
  reset() {
    const half = (this.camera.fov * Math.PI) / 360;
    const narrow = Math.min(half, Math.atan(Math.tan(half) * this.camera.aspect));
    const distance = this.home.radius / Math.sin(narrow);
    this.camera.position.copy(this.home.centre).addScaledVector(this.home.dir, distance);
    this.controls.target.copy(this.home.centre);
    this.controls.update();
    this.changed();
  }

  zoom(factor) {
    const offset = this.camera.position.clone().sub(this.controls.target).multiplyScalar(factor);
    this.camera.position.copy(this.controls.target).add(offset);
    this.controls.update();
    this.changed();
  }

  setPointSize(px) {
    this.material.size = px;
    this.changed();
  }

  changed() {
    this.dirty = true;
  }

  resize() {
    const width = stage.clientWidth || 640;
    const height = this.canvas.parentElement.clientHeight || 400;
    this.renderer.setSize(width, height, false);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
    this.changed();
  }

  loop() {
    requestAnimationFrame(this.loop);
    const moved = this.controls.update();
    if (!moved && !this.dirty) return;
    this.dirty = false;
    this.frame += 1;
    this.refine();
    this.renderer.render(this.scene, this.camera);
    if (!this.firstDrawn && this.root.state === "loaded") {
      this.firstDrawn = true;
      say("loaded");
    }
  }

  // Screen size, in pixels, of the node's point spacing seen from the camera.
  projected(node) {
    const distance = Math.max(node.worldBox.distanceToPoint(this.camera.position), 1e-9);
    const pixels = this.renderer.domElement.height / (2 * Math.tan((this.camera.fov * Math.PI) / 360));
    return (node.spacing / distance) * pixels;
  }

  children(node) {
    const out = [];
    const mask = node.meta.children || 0;
    for (let i = 0; i < 8; i += 1) {
      if (!(mask & (1 << i))) continue;
      const key = `${node.depth + 1}-${2 * node.x + (i & 1)}-${2 * node.y + ((i >> 1) & 1)}-${2 * node.z + (i >> 2)}`;
      const child = this.nodes.get(key);
      if (child) out.push(child);
    }
    return out;
  }

  // Walk the tree, most visible detail first, within the point budget.
  refine() {
    const frustum = new Frustum().setFromProjectionMatrix(
      new Matrix4().multiplyMatrices(this.camera.projectionMatrix, this.camera.matrixWorldInverse),
    );
    const wanted = [];
    let shown = 0;
    const candidates = new Heap();
    candidates.push({ node: this.root, weight: Infinity });
    while (candidates.size) {
      const { node } = candidates.pop();
      if (node !== this.root && !frustum.intersectsBox(node.worldBox)) continue;
      if (shown + node.meta.points > this.budget && node !== this.root) continue;
      shown += node.meta.points;
      node.used = this.frame;
      if (node.state !== "loaded" && node.state !== "empty") {
        wanted.push(node);
        continue; // its children wait until it is here
      }
      if (node.points) node.points.visible = true;
      if (this.projected(node) > REFINE_PIXELS) {
        for (const child of this.children(node)) {
          candidates.push({ node: child, weight: this.projected(child) });
        }
      }
    }
    for (const node of this.nodes.values()) {
      if (node.points && node.used !== this.frame) node.points.visible = false;
    }
    this.queue = wanted.filter((n) => n.state === "none");
    this.pump();
    this.evict();
    stage.dataset.pointsShown = String(shown);
    const count = document.querySelector("[data-pv-count]");
    if (count) {
      const fmt = new Intl.NumberFormat(document.documentElement.lang || undefined);
      count.textContent = (stage.dataset.msgCount || "{shown} / {total}")
        .replace("{shown}", fmt.format(Math.min(shown, this.index.points)))
        .replace("{total}", fmt.format(this.index.points));
    }
  }

  pump() {
    while (this.inFlight < MAX_REQUESTS && this.queue.length) {
      const node = this.queue.shift();
      if (node.state !== "none") continue;
      this.fetchTile(node);
    }
  }

  async fetchTile(node) {
    node.state = "loading";
    this.inFlight += 1;
    this.requested += 1;
    stage.dataset.tilesRequested = String(this.requested);
    const { offset, bytes } = node.meta;
    try {
      const response = await fetch(this.dataUrl, {
        headers: { Range: `bytes=${offset}-${offset + bytes - 1}` },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(String(response.status));
      let buffer = await response.arrayBuffer();
      if (response.status === 200) buffer = buffer.slice(offset, offset + bytes); // Range ignored
      this.addPoints(node, buffer);
    } catch (_err) {
      node.state = "none"; // asked for again when next wanted
      if (node === this.root) say("error");
    } finally {
      this.inFlight -= 1;
      this.changed();
    }
  }

  addPoints(node, buffer) {
    const n = node.meta.points;
    const geometry = new BufferGeometry();
    geometry.setAttribute("position", new BufferAttribute(new Uint16Array(buffer, 0, 3 * n), 3));
    geometry.setAttribute("color", new BufferAttribute(new Uint8Array(buffer, 6 * n, 3 * n), 3, true));
    const step = node.meta.step;
    const lo = node.box.min.clone().sub(new Vector3(...node.meta.min)).divideScalar(step);
    const hi = node.box.max.clone().sub(new Vector3(...node.meta.min)).divideScalar(step);
    geometry.boundingBox = new Box3(lo, hi);
    geometry.boundingSphere = geometry.boundingBox.getBoundingSphere(new Sphere());
    const points = new Points(geometry, this.material);
    points.position.set(...node.meta.min);
    points.scale.setScalar(step);
    points.frustumCulled = false; // refine() decides what is drawn
    points.matrixAutoUpdate = false;
    points.updateMatrix();
    this.group.add(points);
    node.points = points;
    node.state = "loaded";
    this.loadedCount += 1;
    stage.dataset.tilesLoaded = String(this.loadedCount);
  }

  // Drop the tiles unused for longest once half a budget more than the budget is held.
  evict() {
    let held = 0;
    const loaded = [];
    for (const node of this.nodes.values()) {
      if (node.points) {
        held += node.meta.points;
        loaded.push(node);
      }
    }
    if (held <= this.budget * 1.5) return;
    loaded.sort((a, b) => a.used - b.used || b.depth - a.depth);
    for (const node of loaded) {
      if (held <= this.budget || node.used === this.frame) break;
      if (node === this.root) continue;
      this.group.remove(node.points);
      node.points.geometry.dispose();
      node.points = null;
      node.state = "none";
      held -= node.meta.points;
    }
  }
}

function showPoster() {
  const poster = stage.querySelector("[data-pv-poster]");
  if (poster) poster.hidden = false;
}

async function start() {
  if (!hasWebGL2()) {
    say("nowebgl");
    showPoster();
    return;
  }
  say("loading");
  let index;
  try {
    const response = await fetch(stage.dataset.index, { credentials: "same-origin" });
    if (!response.ok) throw new Error(String(response.status));
    index = await response.json();
    if (index.format !== FORMAT || index.version !== 1) throw new Error("unknown tile format");
  } catch (_err) {
    say("error");
    showPoster();
    return;
  }
  let viewer;
  try {
    viewer = new Viewer(index, stage.dataset.data);
  } catch (_err) {
    say("nowebgl");
    showPoster();
    return;
  }
  const tools = document.querySelector("[data-pv-tools]");
  if (tools) {
    tools.hidden = false;
    tools.querySelector("[data-pv-zoom-in]").addEventListener("click", () => viewer.zoom(0.6));
    tools.querySelector("[data-pv-zoom-out]").addEventListener("click", () => viewer.zoom(1 / 0.6));
    tools.querySelector("[data-pv-reset]").addEventListener("click", () => viewer.reset());
    const size = tools.querySelector("[data-pv-size]");
    size.addEventListener("input", () => viewer.setPointSize(Number(size.value)));
    viewer.setPointSize(Number(size.value));
  }
  stage.addEventListener("keydown", (event) => {
    if (event.key === "+" || event.key === "=") viewer.zoom(0.8);
    else if (event.key === "-" || event.key === "_") viewer.zoom(1.25);
  });
}

if (stage) start();
