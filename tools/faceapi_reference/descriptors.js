// descriptors.js — face-api's own computeFaceDescriptor on the committed 150×150 chips and
// on their mirror images: the peer reference for tests/test_dlib_resnet.c.
//   node descriptors.js ../../tests/fixtures/dlib  (writes descriptors.json there)
// Backend: tfjs-backend-wasm (loaded from the local package folder; no network).
const fs = require('fs');
const path = require('path');
const { PNG } = require('pngjs');
const { faceapi, ready } = require('./faceapi');

async function main() {
  const dir = path.resolve(process.argv[2] || path.join(__dirname, '../../tests/fixtures/dlib'));
  const modelDir = await ready();
  await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);
  const chips = fs.readdirSync(dir).filter((f) => /^chip_\d+\.png$/.test(f)).sort();
  const out = { generator: 'tools/faceapi_reference/descriptors.js', faceapi: faceapi.version,
    tfjs: faceapi.tf.version_core, backend: faceapi.tf.getBackend(), descriptors: {}, mirrored: {} };
  for (const f of chips) {
    const png = PNG.sync.read(fs.readFileSync(path.join(dir, f)));
    const rgb = new Int32Array(png.width * png.height * 3);
    for (let i = 0; i < png.width * png.height; i++)
      for (let c = 0; c < 3; c++) rgb[i * 3 + c] = png.data[i * 4 + c];
    const t = faceapi.tf.tensor3d(rgb, [png.height, png.width, 3], 'int32');
    const d = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(t);
    // the mirror image too: facenet-c's embedding averages a chip and its mirror
    const tm = faceapi.tf.reverse(t, 1);
    const dm = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(tm);
    t.dispose();
    tm.dispose();
    out.descriptors[f] = Array.from(d).map((v) => Number(v.toPrecision(9)));
    out.mirrored[f] = Array.from(dm).map((v) => Number(v.toPrecision(9)));
    console.log(f, 'norm', Math.hypot(...d).toFixed(4), 'mirrored', Math.hypot(...dm).toFixed(4));
  }
  fs.writeFileSync(path.join(dir, 'descriptors.json'), JSON.stringify(out, null, 1) + '\n');
}
main().catch((e) => { console.error(e); process.exit(1); });
