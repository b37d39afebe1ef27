// landmarks68_crops.js — face-api's FaceLandmark68Net on each committed face crop of
// tests/fixtures/landmark68 (made by tools/gen_landmark68_fixtures.py): the whole crop is
// the face, as face-api feeds a detection's region to the net. Writes expected.json there
// (68 x, y points per crop, crop pixels), which tests/test_landmark68.c compares against.
//   node landmarks68_crops.js
const fs = require('fs');
const path = require('path');
const { PNG } = require('pngjs');
const { faceapi, ready, rgbTensor } = require('./faceapi');

async function main() {
  const modelDir = await ready();
  await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
  const dir = path.join(__dirname, '..', '..', 'tests', 'fixtures', 'landmark68');
  const { crops } = JSON.parse(fs.readFileSync(path.join(dir, 'crops.json'), 'utf8'));
  const out = { generator: 'tools/faceapi_reference/landmarks68_crops.js', faceapi: '@vladmandic/face-api@1.7.15',
    tfjs: faceapi.tf.version_core, backend: faceapi.tf.getBackend(), crops: [] };
  for (const c of crops) {
    const png = PNG.sync.read(fs.readFileSync(path.join(dir, c.file)));
    const t = rgbTensor(png.data, png.width, png.height);
    const lm = await faceapi.nets.faceLandmark68Net.detectLandmarks(t);
    t.dispose();
    out.crops.push({ file: c.file, points: lm.positions.map((p) => [p.x, p.y]) });
  }
  fs.writeFileSync(path.join(dir, 'expected.json'), JSON.stringify(out) + '\n');
  console.log(`expected.json: ${out.crops.length} crops (${out.backend})`);
}
main().catch((e) => { console.error(e); process.exit(1); });
