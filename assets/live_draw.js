// Live while drawing (the Draw page): while the pen moves, the browser reads the canvas's pixels
// and runs the model itself (static/live-<hash>/live.js: LiteRT.js and assets/canvas_to_mnist.js),
// and this panel shows its Prediction and ten bars in place of the last server answer. When the
// pen lifts, the canvas sends the drawing as before; once the server's answer is on the page,
// it takes the panel's place again. The server's answer is the one that counts (feedback,
// Inside, Push it): it is what stays on screen.
//
// Pacing: one reading at a time, at most one a frame (requestAnimationFrame). A pointer move
// while a reading runs only marks the drawing changed; the next frame reads the pixels as they
// are then. Nothing queues, so a slow device reads less often but never falls behind the pen.
// The runtime loads after the page is usable (an idle moment after mounting) and drawing never
// waits for it: until it is ready, and where it cannot run, the page works as before (the
// answer when the pen lifts), and the small print says so.
//
// data: {runtime, model}: absolute URL paths of the runtime's folder and the gzipped .tflite,
// or {off: "why"} when this model cannot run in the browser; {words}: the panel's words in the
// page's language (its catalog, pages/draw.py) and {lang}, which writes the percentages.
// window.__digitlabLive.log keeps the last few hundred readings' times (bench/live_latency.py).
const STATE = (window.__digitlabLive ??= {
  model: null, loading: null, failed: null, key: null, panel: null,
  down: false, root: null, scheduled: false, busy: false, dirty: false, pendingMoves: [],
  awaitingServer: false, last: null, final: null, log: [], installed: false,
});

let WORDS = {};
let PERCENT = { whole: (p) => `${Math.round(100 * p)}%`, tenth: (p) => `${(100 * p).toFixed(1)}%` };
const offNote = (why) => (WORDS.off || "{why}").replace("{why}", why);

function setLanguage(words, lang) {
  if (words) WORDS = words;
  if (lang && lang !== PERCENT.lang) {
    try {
      const whole = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 });
      const tenth = new Intl.NumberFormat(lang, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
      PERCENT = { lang, whole: (p) => whole.format(p), tenth: (p) => tenth.format(p) };
    } catch { /* an unknown language: the percentages stay as they were */ }
  }
  const live = STATE.panel?.querySelector(".live");
  if (!live) return;
  live.querySelector(".name.prediction").textContent = WORDS.prediction || "";
  live.querySelector(".name.confidence-name").textContent = WORDS.confidence || "";
  live.querySelector(".bars").setAttribute("aria-label", WORDS.bars || "");
}

function panelMarkup() {
  const bars = [...Array(10).keys()].map((d) => `
    <div class="bar" data-digit="${d}"><span class="pct"></span><span class="fill"></span><span class="label">${d}</span></div>`).join("");
  return `<div class="live" data-testid="digitlab-live">
    <div class="verdict"><div><div class="name prediction"></div><div class="value" data-testid="digitlab-live-digit"></div></div>
      <div><div class="name confidence-name"></div><div class="confidence"></div></div></div>
    <div class="bars" role="img">${bars}</div></div>
    <p class="note" data-testid="digitlab-live-note"></p>`;
}

function setNote(text, state) {
  const note = STATE.panel?.querySelector(".note");
  if (!note) return;
  note.textContent = text;
  STATE.panel.dataset.state = state;
}

// The panel's phase: "drawing" (the live reading is the page's answer: on a laptop or tablet it
// takes the place of the server's), "server" (the server's answer is back and shown; a phone
// keeps the last live reading, greyed, so nothing above its canvas changes height) or "empty".
function show(on) {
  if (!STATE.panel) return;
  const phase = on ? "drawing" : STATE.panel.querySelector(".live").dataset.top1 ? "server" : "empty";
  STATE.panel.dataset.phase = phase;
  document.body.classList.toggle("digitlab-live-on", on);
}

function paint(probabilities) {
  const live = STATE.panel?.querySelector(".live");
  if (!live) return;
  let best = 0;
  for (let d = 1; d < 10; d++) if (probabilities[d] > probabilities[best]) best = d;
  live.querySelector(".value").textContent = String(best);
  live.querySelector(".confidence").textContent = PERCENT.tenth(probabilities[best]);
  live.dataset.top1 = String(best);
  live.dataset.probabilities = Array.from(probabilities, (p) => p.toFixed(5)).join(",");
  live.querySelectorAll(".bar").forEach((bar, d) => {
    bar.style.setProperty("--p", probabilities[d].toFixed(4));
    bar.classList.toggle("best", d === best);
    bar.querySelector(".pct").textContent = PERCENT.whole(probabilities[d]);
  });
}

// The canvas's pixels now: the drawn paths (the drawing's lower canvas, which has the background
// colour too; the component's background-image canvas is another) under the stroke in progress
// (the upper canvas, until the pen lifts).
let scratch = null;
function pixels(upper) {
  const lower = upper.parentElement?.querySelector("canvas.lower-canvas");
  if (!lower || !lower.width) return null;
  if (!scratch || scratch.width !== lower.width || scratch.height !== lower.height) {
    scratch = document.createElement("canvas");
    scratch.width = lower.width;
    scratch.height = lower.height;
  }
  const ctx = scratch.getContext("2d", { willReadFrequently: true });
  ctx.globalCompositeOperation = "copy";
  ctx.drawImage(lower, 0, 0);
  ctx.globalCompositeOperation = "source-over";
  if (upper && upper.width === lower.width) ctx.drawImage(upper, 0, 0);
  return ctx.getImageData(0, 0, scratch.width, scratch.height);
}

function schedule() {
  if (STATE.scheduled || !STATE.model) return;
  STATE.scheduled = true;
  requestAnimationFrame(frame);
}

async function frame() {
  STATE.scheduled = false;
  if (STATE.busy) { STATE.dirty = true; return; }
  const root = STATE.root;
  if (!root || !root.isConnected || !STATE.model) return;
  STATE.busy = true;
  const moves = STATE.pendingMoves;
  STATE.pendingMoves = [];
  const final = STATE.wantFinal && !STATE.down;
  if (final) STATE.wantFinal = false;
  try {
    const read = performance.now();
    const data = pixels(root);
    const image = data && STATE.live.canvasToMnist(data.data, data.width, data.height);
    const prepared = performance.now();
    if (image) {
      const probabilities = await STATE.model.predict(image);
      paint(probabilities);
      if (STATE.down || STATE.awaitingServer) show(true);
      const computed = performance.now();
      if (final) STATE.final = Array.from(probabilities);
      requestAnimationFrame(() => {
        const painted = performance.now();
        STATE.log.push({ moves, read, prepared, computed, painted, final, width: data.width });
        if (STATE.log.length > 500) STATE.log.splice(0, STATE.log.length - 500);
      });
    }
  } catch (error) {
    console.warn("[digit-lab] live reading failed", error);
  } finally {
    STATE.busy = false;
    if (STATE.dirty) { STATE.dirty = false; schedule(); }
  }
}

function onDown(event) {
  const target = event.composedPath()[0];
  if (!(target instanceof Element) || !target.matches("canvas.upper-canvas")) return;
  STATE.down = true;
  STATE.root = target;
  STATE.final = null;
  STATE.wantFinal = false;
  STATE.awaitingServer = false;
  STATE.pendingMoves.push(event.timeStamp);
  schedule();
}

function onMove(event) {
  if (!STATE.down) return;
  STATE.pendingMoves.push(event.timeStamp);
  schedule();
}

function onUp() {
  if (!STATE.down) return;
  STATE.down = false;
  STATE.awaitingServer = true;
  if (STATE.root) strokesDrawn.set(STATE.root, (strokesDrawn.get(STATE.root) || 0) + 1);
  // The canvas draws the finished path on its lower canvas in an animation frame it asks for
  // during this pointer-up; a frame asked for after that (a new task) runs after it.
  setTimeout(() => requestAnimationFrame(() => {
    STATE.wantFinal = true;
    if (STATE.busy) STATE.dirty = true;
    else if (!STATE.scheduled) { STATE.scheduled = true; frame(); }
  }), 0);
}

// The server's answer is on the page once the component is rendered with a stroke count that
// includes the strokes drawn so far on this canvas: Python mounts it last in each run.
const strokesDrawn = new WeakMap(); // upper canvas -> strokes drawn on it here
function serverCaughtUp(strokes) {
  if (!STATE.awaitingServer) return;
  const drawn = STATE.root ? strokesDrawn.get(STATE.root) || 0 : 0;
  if (typeof strokes === "number" && strokes < drawn) return;
  STATE.awaitingServer = false;
  STATE.serverAt = performance.now();
  if (!STATE.down) show(false);
}

function install() {
  if (STATE.installed) return;
  STATE.installed = true;
  window.addEventListener("pointerdown", onDown, true);
  window.addEventListener("pointermove", onMove, true);
  window.addEventListener("pointerup", onUp, true);
  window.addEventListener("pointercancel", onUp, true);
}

function load(data) {
  const key = `${data.runtime}|${data.model}`;
  if (STATE.key === key && (STATE.model || STATE.loading)) return;
  STATE.key = key;
  STATE.model = null;
  STATE.failed = null;
  setNote(WORDS.loading, "loading");
  const origin = window.location.origin;
  const start = () => {
    STATE.loading = import(origin + data.runtime + "live.js")
      .then((live) => { STATE.live = live; return live.loadModel(origin + data.runtime, origin + data.model); })
      .then((model) => {
        if (STATE.key !== key) return;
        STATE.model = model;
        STATE.readyAt = performance.now();
        setNote(WORDS.ready, "ready");
      })
      .catch((error) => {
        console.warn("[digit-lab] live predictions are off", error);
        STATE.failed = String(error);
        if (STATE.key === key) setNote(offNote(WORDS.noBrowser), "off");
      })
      .finally(() => { STATE.loading = null; });
  };
  // After the page is usable: the canvas and the app's first answer come first.
  if ("requestIdleCallback" in window) requestIdleCallback(start, { timeout: 1500 });
  else setTimeout(start, 300);
}

export default function ({ parentElement, data }) {
  install();
  if (!parentElement.querySelector(".live-root")) {
    const root = document.createElement("div");
    root.className = "live-root";
    root.dataset.phase = "empty";
    root.innerHTML = panelMarkup();
    parentElement.appendChild(root);
  }
  STATE.panel = parentElement.querySelector(".live-root");
  setLanguage(data?.words, data?.lang);
  STATE.panel.toggleAttribute("data-present", Boolean(data?.present));
  serverCaughtUp(data?.strokes);
  if (data?.off) {
    STATE.key = null;
    STATE.model = null;
    show(false);
    setNote(offNote(data.off), "off");
  } else if (data?.runtime && data?.model) {
    const same = STATE.key === `${data.runtime}|${data.model}`;
    if (same && STATE.model) setNote(WORDS.ready, "ready");
    else if (same && STATE.loading) setNote(WORDS.loading, "loading");
    else if (same && STATE.failed) setNote(offNote(WORDS.noBrowser), "off");
    else load(data);
  }
  return () => {
    if (STATE.panel && !STATE.panel.isConnected) STATE.panel = null;
  };
}
