// model/data/preprocess.py's canvas_to_mnist, step for step, for the Draw page's live
// predictions: the browser reads the canvas's pixels while the pen moves and must give the
// model the same 28x28 image the server makes from the same pixels when the pen lifts
// (tests/test_canvas_to_mnist_js.py holds the two equal on thousands of drawings).
//
// Equal, not alike, so nothing is left to the browser: the Lanczos resize is Pillow's
// (Resample.c: the same coefficients, a horizontal pass then a vertical one, sums in double,
// each pass stored as float32), the distance transform is the exact Euclidean one OpenCV's
// DIST_MASK_PRECISE computes (Felzenszwalb and Huttenlocher), rounding is Python's (halves to
// even), and wherever numpy computes in float32 so does this (Math.fround), thresholds included.
//
//   canvasToMnist(rgba, width, height) -> Float32Array(784) in [0, 1], or null when blank
//   (rgba: the canvas's RGBA bytes, e.g. getImageData(...).data)

export const DIGIT_BOX = 20;
export const FIELD = 28;
const CENTRE_OF_MASS = 14.0;
const MNIST_STROKE_WIDTH = 2.7;
const WORK_SCALE = 4;
const WIDTH_TOLERANCE = [0.8, 1.25];
const SECOND_PASS_ABOVE = 2.0;
const f32 = Math.fround;
const INK_THRESHOLD = 0.2;
const INK_THRESHOLD_F32 = f32(INK_THRESHOLD); // numpy compares float32 pixels in float32
const BY_255 = f32(1 / 255);

// Python's round(): to the nearest integer, halves to the even one.
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// A 2-D float32 image: {data: Float32Array, h, w}.
const image = (h, w, data = new Float32Array(h * w)) => ({ data, h, w });

function crop(img, top, left, h, w) {
  const out = image(h, w);
  for (let r = 0; r < h; r++) out.data.set(img.data.subarray((top + r) * img.w + left, (top + r) * img.w + left + w), r * w);
  return out;
}

// The rows and columns where test(i) holds for some pixel i of an h x w grid: [top, left, h, w] or null.
function maskBox(h, w, test) {
  let top = h, bottom = -1, left = w, right = -1;
  for (let r = 0; r < h; r++) {
    const row = r * w;
    let c = 0;
    while (c < w && !test(row + c)) c++;
    if (c === w) continue;
    let last = w - 1;
    while (!test(row + last)) last--;
    if (bottom < 0) top = r;
    bottom = r;
    if (c < left) left = c;
    if (last > right) right = last;
  }
  return bottom < 0 ? null : [top, left, bottom - top + 1, right - left + 1];
}

const boundingBox = (img) => maskBox(img.h, img.w, (i) => img.data[i] > INK_THRESHOLD_F32);

function median(values) {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

// preprocess.canvas_ink_box for RGBA bytes: the ink in [0, 1] over the drawing's bounding box.
// (Plain loops: this runs on every animation frame over a canvas of up to 800x800 pixels.)
export function canvasInkBox(rgba, width, height) {
  const n = width * height;
  const bright = (i) => Math.max(rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]);
  let minAlpha = 255;
  for (let i = 3; i < 4 * n; i += 4) if (rgba[i] < minAlpha) minAlpha = rgba[i];
  if (minAlpha < 252) { // a transparent background: ink is wherever there is paint
    const ink = image(height, width);
    for (let i = 0; i < n; i++) ink.data[i] = f32(rgba[4 * i + 3] * BY_255);
    const box = boundingBox(ink);
    return box && crop(ink, ...box);
  }
  const border = [];
  for (let c = 0; c < width; c++) border.push(bright(c));
  for (let c = 0; c < width; c++) border.push(bright((height - 1) * width + c));
  for (let r = 0; r < height; r++) border.push(bright(r * width));
  for (let r = 0; r < height; r++) border.push(bright(r * width + width - 1));
  let background = median(border) / 255;
  const lightPaper = background > 0.5;
  if (lightPaper) background = 1.0 - background;
  // The drawn region: everything outside it has exactly the top-left pixel's colour.
  const words = rgba.byteOffset % 4 === 0
    ? new Uint32Array(rgba.buffer, rgba.byteOffset, n) : new Uint32Array(Uint8Array.from(rgba).buffer);
  const first = words[0];
  let rTop = height, rBottom = -1, rLeft = width, rRight = -1;
  for (let r = 0; r < height; r++) {
    const row = r * width;
    let c = 0;
    while (c < width && words[row + c] === first) c++;
    if (c === width) continue;
    let last = width - 1;
    while (words[row + last] === first) last--;
    if (rBottom < 0) rTop = r;
    rBottom = r;
    if (c < rLeft) rLeft = c;
    if (last > rRight) rRight = last;
  }
  if (rBottom < 0) return null;
  const rH = rBottom - rTop + 1, rW = rRight - rLeft + 1;
  const level = roundHalfEven(255 * (background + INK_THRESHOLD * (1.0 - background)));
  const value = new Uint8Array(rH * rW);
  for (let r = 0; r < rH; r++) {
    let at = 4 * ((rTop + r) * width + rLeft);
    for (let c = 0; c < rW; c++, at += 4) {
      const red = rgba[at], green = rgba[at + 1], blue = rgba[at + 2];
      value[r * rW + c] = red > green ? (red > blue ? red : blue) : (green > blue ? green : blue);
    }
  }
  const box = lightPaper
    ? maskBox(rH, rW, (i) => value[i] < 255 - level)
    : maskBox(rH, rW, (i) => value[i] > level);
  if (!box) return null;
  const [top, left, h, w] = box;
  const ink = image(h, w);
  const bg = f32(background);
  const scale = f32(Math.max(1.0 - background, 1e-6));
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      let v = f32(value[(top + r) * rW + left + c] * BY_255);
      if (lightPaper) v = f32(1.0 - v);
      v = f32(f32(v - bg) / scale);
      ink.data[r * w + c] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return ink;
}

// Pillow's Lanczos filter and coefficients (libImaging/Resample.c, precompute_coeffs).
function sinc(x) {
  if (x === 0.0) return 1.0;
  x *= Math.PI;
  return Math.sin(x) / x;
}
const lanczos = (x) => (-3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0);

function coefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1.0);
  const support = 3.0 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Float64Array(outSize * ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1.0 / filterScale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      const w = lanczos((x + xmin - center + 0.5) * ss);
      kk[xx * ksize + x] = w;
      ww += w;
    }
    if (ww !== 0.0) for (let x = 0; x < xmax; x++) kk[xx * ksize + x] /= ww;
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return { bounds, kk, ksize };
}

// Image.frombuffer("F", ...).resize((width, height), LANCZOS), then clipped to [0, 1].
function horizontalPass(src, h, w, width) {
  const { bounds, kk, ksize } = coefficients(w, width);
  const out = new Float32Array(h * width);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let xx = 0; xx < width; xx++) {
      const start = row + bounds[2 * xx], taps = bounds[2 * xx + 1], k0 = xx * ksize;
      let ss = 0.0;
      for (let x = 0; x < taps; x++) ss += src[start + x] * kk[k0 + x];
      out[y * width + xx] = ss;
    }
  }
  return out;
}

function verticalPass(src, h, w, height) {
  const { bounds, kk, ksize } = coefficients(h, height);
  const out = new Float32Array(height * w);
  const sums = new Float64Array(w);
  for (let yy = 0; yy < height; yy++) {
    const ymin = bounds[2 * yy], taps = bounds[2 * yy + 1], k0 = yy * ksize;
    sums.fill(0);
    for (let y = 0; y < taps; y++) { // row by row: the same sums in the same order, read in memory order
      const k = kk[k0 + y], row = (y + ymin) * w;
      for (let x = 0; x < w; x++) sums[x] += src[row + x] * k;
    }
    out.set(sums, yy * w);
  }
  return out;
}

function resize(img, height, width) {
  let data = img.data;
  if (width !== img.w) data = horizontalPass(data, img.h, img.w, width);
  if (height !== img.h) data = verticalPass(data, img.h, width, height);
  const clipped = data === img.data ? Float32Array.from(data) : data;
  for (let i = 0; i < clipped.length; i++) {
    const v = clipped[i];
    clipped[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return image(height, width, clipped);
}

// The exact Euclidean distance from each pixel where inMask(i) holds to the nearest pixel
// where it does not (0 there), as float32: squared distances along columns, then the lower
// envelope of parabolas along rows (Felzenszwalb and Huttenlocher 2012).
function distanceToBackground(h, w, inMask) {
  const INF = 1e20;
  const g = new Float64Array(h * w);
  for (let c = 0; c < w; c++) {
    let d = INF;
    for (let r = 0; r < h; r++) {
      d = inMask(r * w + c) ? d + 1 : 0;
      g[r * w + c] = d;
    }
    d = INF;
    for (let r = h - 1; r >= 0; r--) {
      d = inMask(r * w + c) ? d + 1 : 0;
      if (d < g[r * w + c]) g[r * w + c] = d;
    }
  }
  const out = new Float32Array(h * w);
  const f = new Float64Array(w), v = new Int32Array(w), z = new Float64Array(w + 1);
  for (let r = 0; r < h; r++) {
    for (let q = 0; q < w; q++) {
      const d = g[r * w + q];
      f[q] = d >= INF / 2 ? INF : d * d;
    }
    let k = 0;
    v[0] = 0;
    z[0] = -Infinity;
    z[1] = Infinity;
    for (let q = 1; q < w; q++) {
      let s;
      for (;;) {
        const p = v[k];
        s = (f[q] + q * q - (f[p] + p * p)) / (2 * (q - p));
        if (s > z[k]) break;
        k--;
      }
      k++;
      v[k] = q;
      z[k] = s;
      z[k + 1] = Infinity;
    }
    k = 0;
    for (let q = 0; q < w; q++) {
      while (z[k + 1] < q) k++;
      const p = v[k];
      out[r * w + q] = Math.sqrt((q - p) * (q - p) + f[p]);
    }
  }
  return out;
}

// preprocess.normalise_stroke_width: [ink, ratio]; ink itself when the width is within tolerance.
function normaliseStrokeWidth(ink, target, box) {
  const n = ink.data.length;
  const mask = new Uint8Array(n);
  let any = false;
  for (let i = 0; i < n; i++) if (ink.data[i] > 0.5) { mask[i] = 1; any = true; }
  if (!any) return [ink, 1.0];
  const inside = distanceToBackground(ink.h, ink.w, (i) => mask[i] === 1);
  let sum = 0, count = 0, deepest = 0;
  for (let i = 0; i < n; i++) {
    if (mask[i]) { sum += inside[i]; count++; }
    if (inside[i] > deepest) deepest = inside[i];
  }
  const width = 4.0 * (f32(sum / count) - 0.5);
  const ratio = width / target;
  if (WIDTH_TOLERANCE[0] <= ratio && ratio <= WIDTH_TOLERANCE[1]) return [ink, ratio];
  const share = target / box;
  const depth = (width - target) / (2 * (1 - share));
  const out = image(ink.h, ink.w);
  if (depth > 0) {
    const limit = f32(depth);
    let kept = false;
    for (let i = 0; i < n; i++) if (inside[i] > limit) { out.data[i] = 1; kept = true; }
    if (!kept) for (let i = 0; i < n; i++) out.data[i] = inside[i] >= deepest ? 1 : 0;
    return [out, ratio];
  }
  const outside = distanceToBackground(ink.h, ink.w, (i) => mask[i] === 0);
  const reach = f32(-depth);
  for (let i = 0; i < n; i++) out.data[i] = outside[i] <= reach ? 1 : 0;
  return [out, ratio];
}

// preprocess.scaled_to_box: cropped to the ink, longer side `box` px, a blank margin around.
function scaledToBox(ink, box, margin) {
  const bounds = boundingBox(ink);
  if (!bounds) return null;
  const digit = crop(ink, ...bounds);
  const scale = box / Math.max(digit.h, digit.w);
  const height = Math.max(1, Math.min(box, roundHalfEven(digit.h * scale)));
  const width = Math.max(1, Math.min(box, roundHalfEven(digit.w * scale)));
  const out = image(height + 2 * margin, width + 2 * margin);
  const resized = resize(digit, height, width);
  for (let r = 0; r < height; r++) out.data.set(resized.data.subarray(r * width, (r + 1) * width), (margin + r) * out.w + margin);
  return out;
}

// preprocess.ink_to_mnist: the MNIST recipe on an ink map; null if it is blank.
export function inkToMnist(ink) {
  const workBox = DIGIT_BOX * WORK_SCALE, margin = WORK_SCALE * 2;
  const target = MNIST_STROKE_WIDTH * WORK_SCALE;
  let work = scaledToBox(ink, workBox, margin);
  if (!work) return null;
  let [corrected, ratio] = normaliseStrokeWidth(work, target, workBox);
  if (corrected !== work) {
    work = scaledToBox(corrected, workBox, margin);
    if (work && ratio > SECOND_PASS_ABOVE) {
      [corrected] = normaliseStrokeWidth(work, target, workBox);
      if (corrected !== work) work = scaledToBox(corrected, workBox, margin);
    }
  }
  const small = work ? scaledToBox(work, DIGIT_BOX, 0) : null;
  if (!small) return null;
  let total = 0, rows = 0, cols = 0;
  for (let r = 0; r < small.h; r++) {
    for (let c = 0; c < small.w; c++) {
      const v = small.data[r * small.w + c];
      total += v;
      rows += v * r;
      cols += v * c;
    }
  }
  if (!(f32(total) > 0)) return null;
  const clip = (x, lo, hi) => Math.min(Math.max(x, lo), hi);
  const top = clip(roundHalfEven(CENTRE_OF_MASS - rows / total), 0, FIELD - small.h);
  const left = clip(roundHalfEven(CENTRE_OF_MASS - cols / total), 0, FIELD - small.w);
  const field = new Float32Array(FIELD * FIELD);
  for (let r = 0; r < small.h; r++) field.set(small.data.subarray(r * small.w, (r + 1) * small.w), (top + r) * FIELD + left);
  return field;
}

// preprocess.canvas_to_mnist: RGBA bytes of a width x height canvas -> 784 floats, or null.
export function canvasToMnist(rgba, width, height) {
  const ink = canvasInkBox(rgba, width, height);
  return ink ? inkToMnist(ink) : null;
}
