// bench_faceapi.js — face-api's side of bench/bench_faceapi.sh: its own pipeline
// (SSD MobileNet v1 detection → 68 landmarks → aligned crop → 128-d descriptor) on each
// image of a list, with the TF.js wasm backend (the fastest that runs offline here).
//   node bench/bench_faceapi.js LIST.txt OUT.bin CHIP.png
// Writes per image: found flag (int32) + 128 float32 (L2-normalised); prints
// "per_image_ms <median> <mean>" and "descriptor_ms <median> <mean>" (descriptor of one
// 150×150 chip, 20 runs after warm-up), and the same as *_cpu_ms (process CPU time, user +
// system: robust on a shared, loaded machine). Modules come from tools/faceapi_reference.
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');
const req = createRequire(path.join(__dirname, '../tools/faceapi_reference/package.json'));
const faceapi = req('@vladmandic/face-api/dist/face-api.node-wasm.js');
const wasm = req('@tensorflow/tfjs-backend-wasm');
const jpeg = req('jpeg-js');
const { PNG } = req('pngjs');

const median = (v) => { const s = [...v].sort((a, b) => a - b); const n = s.length; return n ? (n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2) : 0; };
const mean = (v) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);

function tensorFromRgba(data, w, h) {
  const rgb = new Int32Array(w * h * 3);
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = data[i * 4 + c];
  return faceapi.tf.tensor3d(rgb, [h, w, 3], 'int32');
}

async function main() {
  const [listPath, outPath, chipPath] = process.argv.slice(2);
  const wasmDir = path.dirname(req.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(wasmDir + '/', false);
  await faceapi.tf.setBackend('wasm');
  await faceapi.tf.ready();
  const modelDir = path.join(path.dirname(req.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
  await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);
  const opts = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.2 });

  // descriptor alone on one chip
  const png = PNG.sync.read(fs.readFileSync(chipPath));
  const chip = tensorFromRgba(png.data, png.width, png.height);
  const tDesc = [], cDesc = [];
  const cpuMs = (c) => (c.user + c.system) / 1e3;
  for (let i = 0; i < 23; i++) {
    const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
    await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(chip);
    if (i >= 3) {
      tDesc.push(Number(process.hrtime.bigint() - t0) / 1e6);
      cDesc.push(cpuMs(process.cpuUsage(c0)));
    }
  }
  chip.dispose();

  const list = fs.readFileSync(listPath, 'utf8').split('\n').filter((l) => l);
  const out = Buffer.alloc(list.length * 129 * 4);
  const tImg = [], cImg = [];
  let missing = 0;
  for (let k = 0; k < list.length; k++) {
    const img = jpeg.decode(fs.readFileSync(list[k]), { useTArray: true, formatAsRGBA: true });
    const t = tensorFromRgba(img.data, img.width, img.height);
    const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
    const r = await faceapi.detectSingleFace(t, opts).withFaceLandmarks().withFaceDescriptor();
    tImg.push(Number(process.hrtime.bigint() - t0) / 1e6);
    cImg.push(cpuMs(process.cpuUsage(c0)));
    t.dispose();
    out.writeInt32LE(r ? 1 : 0, k * 516);
    if (r) {
      const d = r.descriptor;
      const n = Math.hypot(...d) || 1;
      for (let i = 0; i < 128; i++) out.writeFloatLE(d[i] / n, k * 516 + 4 + 4 * i);
    } else missing++;
  }
  fs.writeFileSync(outPath, out);
  console.log(`images ${list.length} no_face ${missing}`);
  console.log(`per_image_ms ${median(tImg).toFixed(2)} ${mean(tImg).toFixed(2)}`);
  console.log(`descriptor_ms ${median(tDesc).toFixed(2)} ${mean(tDesc).toFixed(2)}`);
  console.log(`per_image_cpu_ms ${median(cImg).toFixed(2)} ${mean(cImg).toFixed(2)}`);
  console.log(`descriptor_cpu_ms ${median(cDesc).toFixed(2)} ${mean(cDesc).toFixed(2)}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
