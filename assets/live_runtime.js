// The Draw page's in-browser reader: LiteRT.js running the model's own .tflite, and the JS port
// of the server's preprocessing. assets/build_live.mjs bundles this file with its npm packages
// (esbuild) into static/live-<hash>/live.js, next to LiteRT's two wasm builds; assets/live_draw.js
// imports it once the page is usable.
//
// The wasm and the model are served gzipped as they are stored (static/.../*.gz: Streamlit's
// gzip middleware leaves application/gzip alone, so the server spends no CPU on 9 MB of wasm per
// student) and unpacked here with DecompressionStream while they download. Their names carry
// their content's hash, so a cached copy is always right: they are fetched with
// cache: "force-cache", which takes any cached copy without asking the server again.
import { loadAndCompile, loadLiteRt, Tensor } from "@litertjs/core";

export { canvasToMnist } from "./canvas_to_mnist.js";

function gunzipped(url, type) {
  return fetch(url, { cache: "force-cache" }).then((response) => {
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return new Response(response.body.pipeThrough(new DecompressionStream("gzip")), {
      headers: { "Content-Type": type },
    });
  });
}

let runtime = null;

// LiteRT's wasm runtime from `folder` (an absolute URL ending in "/"), loaded once.
export function loadRuntime(folder) {
  if (runtime) return runtime;
  if (typeof WebAssembly !== "object" || typeof DecompressionStream !== "function") {
    return (runtime = Promise.reject(new Error("no WebAssembly or DecompressionStream")));
  }
  runtime = new Promise((resolve, reject) => {
    // Emscripten's hook for instantiating the wasm ourselves: LiteRT's loader script picks
    // the build (relaxed SIMD or compat); its .wasm.gz sits beside it.
    self.Module = {
      instantiateWasm(imports, receive) {
        const script = [...document.scripts].reverse().find((s) => /litert_wasm_\w+\.js$/.test(s.src));
        const url = script.src.replace(/\.js$/, ".wasm.gz");
        gunzipped(url, "application/wasm")
          .then((response) => WebAssembly.instantiateStreaming(response, imports))
          .then(({ instance, module }) => receive(instance, module))
          .catch(reject);
        return {};
      },
    };
    loadLiteRt(folder).then(resolve, reject);
  });
  return runtime;
}

// A model for live reading: {predict(image784) -> Promise<Float32Array(10)>}.
export async function loadModel(folder, modelUrl) {
  await loadRuntime(folder);
  const bytes = new Uint8Array(await (await gunzipped(modelUrl, "application/octet-stream")).arrayBuffer());
  // "wasm": XNNPACK on the CPU. WebGPU's set-up costs more than this whole model does.
  const model = await loadAndCompile(bytes, { accelerator: "wasm" });
  return {
    async predict(image) {
      const input = new Tensor(image, [1, 28, 28, 1]);
      let outputs = null;
      try {
        outputs = await model.run(input);
        return Float32Array.from(outputs[0].toTypedArray());
      } finally {
        input.delete();
        if (outputs) outputs.forEach((t) => t.delete());
      }
    },
    delete: () => model.delete(),
  };
}
