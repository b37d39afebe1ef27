// landmarks68.js — face-api's 68-point landmarks (iBUG markup, as dlib's shape predictor)
// for each image of a list: used to check the 5-point chip template against dlib's
// 33-point chip fit (see docs/BENCHMARKS.md, "Default model").
//   node landmarks68.js LIST.txt > out.txt   (one line per image: path x0 y0 ... x67 y67)
const fs = require('fs');
const path = require('path');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const jpeg = require('jpeg-js');

async function main() {
  const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(wasmDir + '/', false);
  await faceapi.tf.setBackend('wasm');
  await faceapi.tf.ready();
  const modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
  const opts = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.2 });
  for (const file of fs.readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l)) {
    const img = jpeg.decode(fs.readFileSync(file), { useTArray: true, formatAsRGBA: true });
    const rgb = new Int32Array(img.width * img.height * 3);
    for (let i = 0; i < img.width * img.height; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = img.data[i * 4 + c];
    const t = faceapi.tf.tensor3d(rgb, [img.height, img.width, 3], 'int32');
    const r = await faceapi.detectSingleFace(t, opts).withFaceLandmarks();
    t.dispose();
    if (r) console.log(file + ' ' + r.landmarks.positions.map((p) => `${p.x.toFixed(3)} ${p.y.toFixed(3)}`).join(' '));
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
