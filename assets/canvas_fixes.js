// Fixes to the drawing canvas (streamlit-drawable-canvas), made from outside it, since it has
// no option for any of them. Mounted once on the Draw page; `data.css` is assets/canvas.css.
//
// 1. Sizing and the toolbar: the canvas keeps its 400x400 pixels (what the model reads) but is
//    shown as wide as its column allows, and its toolbar, invisible until hovered, is moved
//    wholly above the canvas instead of over its top-right corner, where it swallowed strokes.
//    Fabric maps a pointer through the canvas's on-screen size, so a stroke lands on the same
//    pixel it is drawn over at any scale. The canvas's styles live in an open shadow root that
//    page CSS cannot reach, so the style is put into each such root as soon as the root exists
//    (before its toolbar does: a stroke on a page just opened must draw too), and put back if
//    the component rebuilds its content.
// 2. Sending: the canvas sends a finished stroke to the app only after a 200 ms debounce, more
//    than the whole rest of the round trip. When the pen lifts after a stroke that began on the
//    canvas, this presses the toolbar's own "Update the app with this drawing" button, which
//    sends at once and cancels the pending debounced send: one send per stroke.
// 3. A phone held sideways (a short, wide screen): the page opens scrolled to the drawing area,
//    so the canvas and the prediction beside it fill the screen instead of the page's title
//    (assets/draw.css puts the pen controls under the canvas there). Not if the student has
//    scrolled already. The area is kept there while the page above it still moves (the sidebar
//    folding away unwraps the model's caption, 25 px, often after the first scroll, which left
//    the canvas's top under the header), until the student first touches, clicks, scrolls or
//    types: from then on the page is theirs.
export default function ({ data }) {
  const css = (data && data.css) || "";
  const watched = new WeakSet();
  const observers = [];
  const patch = (root) => {
    if (root.querySelector("style[data-digitlab]")) return;
    const style = document.createElement("style");
    style.dataset.digitlab = "canvas";
    style.textContent = css;
    root.appendChild(style);
  };
  let retries = 0;
  const fix = () => {
    let pending = false;
    for (const host of document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')) {
      const root = host.shadowRoot;
      if (!root) { pending = true; continue; }
      patch(root);
      if (!watched.has(root)) {
        watched.add(root);
        const observer = new MutationObserver(() => patch(root));
        observer.observe(root, { childList: true });
        observers.push(observer);
      }
    }
    if (pending && retries++ < 200) setTimeout(fix, 25);
  };
  fix();
  const bodyObserver = new MutationObserver(() => { retries = 0; fix(); });
  bodyObserver.observe(document.body, { childList: true, subtree: true });

  let strokeRoot = null;
  const onDown = (event) => {
    const target = event.composedPath()[0];
    strokeRoot = target instanceof Element && target.matches("canvas.upper-canvas") ? target.getRootNode() : null;
  };
  const onUp = () => {
    const root = strokeRoot;
    strokeRoot = null;
    // A new task: the canvas finishes the path and queues its debounced send on this same
    // pointer-up (a mouseup listener and a microtask), so the send now comes after both.
    if (root) setTimeout(() => root.querySelector('button[aria-label="Update the app with this drawing"]')?.click(), 0);
  };
  window.addEventListener("pointerdown", onDown, true);
  window.addEventListener("pointerup", onUp, true);

  const main = document.querySelector('[data-testid="stMain"]');
  const handOver = ["pointerdown", "touchstart", "wheel", "keydown"];
  let keepArea = null;
  const releaseArea = () => {
    keepArea?.disconnect();
    keepArea = null;
    handOver.forEach((name) => window.removeEventListener(name, releaseArea, true));
  };
  if (main && main.scrollTop === 0 && window.matchMedia("(max-height: 500px) and (min-width: 640px)").matches) {
    const toArea = () => document.querySelector(".st-key-draw-area")?.scrollIntoView({ block: "start" });
    keepArea = new ResizeObserver(toArea);
    for (const moving of [main, main.querySelector('[data-testid="stMainBlockContainer"]')]) {
      if (moving) keepArea.observe(moving);
    }
    handOver.forEach((name) => window.addEventListener(name, releaseArea, true));
  }

  return () => {
    releaseArea();
    bodyObserver.disconnect();
    observers.forEach((o) => o.disconnect());
    window.removeEventListener("pointerdown", onDown, true);
    window.removeEventListener("pointerup", onUp, true);
  };
}
