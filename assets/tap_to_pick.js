// Touch screens: a tap on a block's grid of filters picks that filter, as a click does with a
// mouse. inside.css lets a finger's swipe on a grid through to scroll the page, so plotly never
// sees a touch there; a short touch that did not wander is handed to plotly as the mouse's hover
// and click at the same point. Listeners are passive: scrolling is never held up.
const GRID = '[class*="st-key-inside-grid-"] .js-plotly-plot';
const SLOP_PX = 10;
const TAP_MS = 600;

function clickAt(plot, x, y) {
  const target = plot.querySelector(".nsewdrag");
  if (!target) return;
  const at = { clientX: x, clientY: y, bubbles: true, cancelable: true, view: window, button: 0 };
  target.dispatchEvent(new MouseEvent("mousemove", at));
  target.dispatchEvent(new MouseEvent("mousedown", { ...at, buttons: 1 }));
  target.dispatchEvent(new MouseEvent("mouseup", at));
  target.dispatchEvent(new MouseEvent("click", at));
}

export default function () {
  if (window.__digitlabTapToPick || !(navigator.maxTouchPoints > 0)) return;
  window.__digitlabTapToPick = true;
  const options = { passive: true, capture: true };
  let tap = null;
  document.addEventListener("touchstart", (event) => {
    const plot = event.touches.length === 1 ? event.target.closest?.(GRID) : null;
    const touch = event.touches[0];
    tap = plot ? { plot, x: touch.clientX, y: touch.clientY, at: performance.now() } : null;
  }, options);
  document.addEventListener("touchmove", (event) => {
    const touch = event.touches[0];
    if (tap && Math.hypot(touch.clientX - tap.x, touch.clientY - tap.y) > SLOP_PX) tap = null;
  }, options);
  document.addEventListener("touchend", () => {
    if (tap && performance.now() - tap.at < TAP_MS) clickAt(tap.plot, tap.x, tap.y);
    tap = null;
  }, options);
  document.addEventListener("touchcancel", () => { tap = null; }, options);
}
