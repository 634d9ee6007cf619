// Builds what the Draw page's live predictions serve, into static/live-<hash>/ (make js):
//   live.js                          assets/live_runtime.js + @litertjs/core + wasm-utils (esbuild)
//   litert_wasm_internal.js          LiteRT's loader for browsers with relaxed SIMD ...
//   litert_wasm_internal.wasm.gz     ... and its wasm, gzipped (-9) as it is served
//   litert_wasm_compat_internal.*    the same for browsers without relaxed SIMD
//   manifest.json                    each file's size, gzipped size and SHA-256 of its content
// <hash> is of the files' contents, so a new build is a new URL and browsers may cache forever.
// The threaded and JSPI builds are left out: they need cross-origin isolation or a flag.
//
//   node assets/build_live.mjs            build, replacing any older static/live-*/
//   node assets/build_live.mjs --check    build in memory and fail unless the committed folder
//                                         has the same contents (CI)
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { build } from "esbuild";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
const wasmDir = join(repo, "node_modules", "@litertjs", "core", "wasm");
const staticDir = join(repo, "static");
const BUILDS = ["litert_wasm_internal", "litert_wasm_compat_internal"];
const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

async function contents() {
  const bundled = await build({
    entryPoints: [join(repo, "assets", "live_runtime.js")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    minify: true,
    legalComments: "eof",
    write: false,
    logLevel: "warning",
  });
  const files = { "live.js": Buffer.from(bundled.outputFiles[0].contents) };
  for (const name of BUILDS) {
    files[`${name}.js`] = readFileSync(join(wasmDir, `${name}.js`));
    files[`${name}.wasm`] = readFileSync(join(wasmDir, `${name}.wasm`));
  }
  return files;
}

function manifest(files) {
  const entries = {};
  for (const [name, bytes] of Object.entries(files)) {
    const served = name.endsWith(".wasm") ? `${name}.gz` : name;
    entries[served] = { bytes: bytes.length, gzip_bytes: gzipSync(bytes, { level: 9 }).length, sha256: sha256(bytes) };
  }
  const hash = sha256(Object.keys(entries).sort().map((k) => `${k} ${entries[k].sha256}\n`).join("")).slice(0, 12);
  return { folder: `live-${hash}`, files: entries };
}

function write(folder, files, about) {
  mkdirSync(folder, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) {
    if (name.endsWith(".wasm")) writeFileSync(join(folder, `${name}.gz`), gzipSync(bytes, { level: 9 }));
    else writeFileSync(join(folder, name), bytes);
  }
  writeFileSync(join(folder, "manifest.json"), JSON.stringify(about, null, 1) + "\n");
}

const files = await contents();
const about = manifest(files);
if (process.argv.includes("--check")) {
  const committed = join(staticDir, about.folder);
  let problems = [];
  try {
    const had = JSON.parse(readFileSync(join(committed, "manifest.json"), "utf8"));
    if (JSON.stringify(had.files) !== JSON.stringify(about.files)) problems.push("manifest.json differs");
    for (const served of Object.keys(about.files)) {
      let bytes = readFileSync(join(committed, served));
      if (served.endsWith(".gz")) bytes = gunzipSync(bytes);
      if (sha256(bytes) !== about.files[served].sha256) problems.push(`${served} differs`);
    }
  } catch (error) {
    problems.push(String(error.message || error));
  }
  const stale = readdirSync(staticDir).filter((n) => n.startsWith("live-") && n !== about.folder);
  if (stale.length) problems.push(`stale builds: ${stale.join(", ")}`);
  if (problems.length) {
    console.error(`static/${about.folder} is not what package-lock.json and assets/ build: ${problems.join("; ")}. Run make js.`);
    process.exit(1);
  }
  console.log(`static/${about.folder} matches the build`);
} else {
  mkdirSync(staticDir, { recursive: true });
  for (const old of readdirSync(staticDir).filter((n) => n.startsWith("live-"))) rmSync(join(staticDir, old), { recursive: true });
  write(join(staticDir, about.folder), files, about);
  const gz = Object.values(about.files).reduce((s, f) => s + f.gzip_bytes, 0);
  console.log(`static/${about.folder}: ${Object.keys(about.files).length} files, ${(gz / 1024).toFixed(0)} KB gzipped in all`);
}
