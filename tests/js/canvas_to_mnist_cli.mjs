// Runs assets/canvas_to_mnist.js on drawings piped in by tests/test_canvas_to_mnist_js.py.
// In: frames of [uint32 width, uint32 height, uint32 n] + n bytes of zlib-deflated RGBA.
// Out: per frame one byte (1: an image follows, 0: blank) and then 784 float32 (little-endian).
import { inflateSync } from "node:zlib";
import { canvasToMnist } from "../../assets/canvas_to_mnist.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = Buffer.concat(chunks);
const out = [];
let timeMs = 0;
for (let at = 0; at < input.length;) {
  const width = input.readUInt32LE(at), height = input.readUInt32LE(at + 4), n = input.readUInt32LE(at + 8);
  const raw = inflateSync(input.subarray(at + 12, at + 12 + n));
  at += 12 + n;
  const rgba = new Uint8ClampedArray(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  if (rgba.length !== width * height * 4) throw new Error(`frame of ${rgba.length} bytes for ${width}x${height}`);
  const start = performance.now();
  const image = canvasToMnist(rgba, width, height);
  timeMs += performance.now() - start;
  out.push(Buffer.from([image ? 1 : 0]));
  if (image) out.push(Buffer.from(image.buffer, image.byteOffset, image.byteLength));
}
process.stdout.write(Buffer.concat(out));
process.stderr.write(JSON.stringify({ ms: timeMs }) + "\n");
