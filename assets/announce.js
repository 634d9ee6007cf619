// Screen readers: a live region per place a prediction appears (data.region: "draw", "upload",
// "sample"), kept outside Streamlit's elements so it survives every rerun: a live region is only
// announced when its text changes while it is in the page, so it must exist before the first
// answer and stay. Its text changes only when the answer does ("Prediction 7, 98 percent sure"),
// so a rerun that changes nothing says nothing. Also labels the drawing canvas, whose own
// elements live in the component's shadow root (data.canvasLabel).
export default function ({ data }) {
  const region = (data && data.region) || "draw";
  const id = `digitlab-announce-${region}`;
  let live = document.getElementById(id);
  if (!live) {
    live = document.createElement("div");
    live.id = id;
    live.className = "digitlab-visually-hidden";
    live.setAttribute("role", "status");
    live.setAttribute("aria-live", "polite");
    live.setAttribute("aria-atomic", "true");
    (document.querySelector('[data-testid="stMain"]') || document.body).appendChild(live);
  }
  const message = (data && data.message) || "";
  if (live.textContent !== message) live.textContent = message;

  const label = data && data.canvasLabel;
  if (!label) return;
  const labelCanvases = () => {
    for (const host of document.querySelectorAll('.st-key-draw-canvas [data-testid="stBidiComponentIsolated"]')) {
      const upper = host.shadowRoot?.querySelector("canvas.upper-canvas");
      if (!upper || upper.getAttribute("aria-label") === label) continue;
      upper.setAttribute("role", "img");
      upper.setAttribute("aria-label", label);
      host.shadowRoot.querySelector("canvas.lower-canvas")?.setAttribute("aria-hidden", "true");
    }
  };
  labelCanvases();
  // The canvas is built inside its component's shadow root some time after the page (and again
  // on Clear), where no observer of the page sees it arrive: look again a few times a second.
  const timer = setInterval(labelCanvases, 250);
  return () => clearInterval(timer);
}
