// landmarks68_crops.js — face-api's FaceLandmark68Net on each committed face crop of
// tests/fixtures/landmark68 (made by tools/gen_landmark68_fixtures.py): the whole crop is
// the face, as face-api feeds a detection's region to the net. Writes expected.json there
// (68 x, y points per crop, crop pixels), which tests/test_landmark68.c compares against.
//   node landmarks68_crops.js
const fs = require('fs');
const path = require('path');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const { PNG } = require('pngjs');

async function main() {
  const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(wasmDir + '/', false);
  await faceapi.tf.setBackend('wasm');
  await faceapi.tf.ready();
  const modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
  const dir = path.join(__dirname, '..', '..', 'tests', 'fixtures', 'landmark68');
  const { crops } = JSON.parse(fs.readFileSync(path.join(dir, 'crops.json'), 'utf8'));
  const out = { generator: 'tools/faceapi_reference/landmarks68_crops.js', faceapi: '@vladmandic/face-api@1.7.15',
    tfjs: faceapi.tf.version_core, backend: faceapi.tf.getBackend(), crops: [] };
  for (const c of crops) {
    const png = PNG.sync.read(fs.readFileSync(path.join(dir, c.file)));
    const rgb = new Int32Array(png.width * png.height * 3);
    for (let i = 0; i < png.width * png.height; i++) for (let k = 0; k < 3; k++) rgb[i * 3 + k] = png.data[i * 4 + k];
    const t = faceapi.tf.tensor3d(rgb, [png.height, png.width, 3], 'int32');
    const lm = await faceapi.nets.faceLandmark68Net.detectLandmarks(t);
    t.dispose();
    out.crops.push({ file: c.file, points: lm.positions.map((p) => [p.x, p.y]) });
  }
  fs.writeFileSync(path.join(dir, 'expected.json'), JSON.stringify(out) + '\n');
  console.log(`expected.json: ${out.crops.length} crops (${out.backend})`);
}
main().catch((e) => { console.error(e); process.exit(1); });
