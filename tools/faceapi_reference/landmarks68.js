// landmarks68.js — face-api's 68-point landmarks (iBUG markup, as dlib's shape predictor)
// for each image of a list: used to check the 5-point chip template against dlib's
// 33-point chip fit (see docs/BENCHMARKS.md, "Default model").
//   node landmarks68.js LIST.txt > out.txt   (one line per image: path x0 y0 ... x67 y67)
const fs = require('fs');
const jpeg = require('jpeg-js');
const { faceapi, ready, rgbTensor } = require('./faceapi');

async function main() {
  const modelDir = await ready();
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
  const opts = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.2 });
  for (const file of fs.readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l)) {
    const img = jpeg.decode(fs.readFileSync(file), { useTArray: true, formatAsRGBA: true });
    const t = rgbTensor(img.data, img.width, img.height);
    const r = await faceapi.detectSingleFace(t, opts).withFaceLandmarks();
    t.dispose();
    if (r) console.log(file + ' ' + r.landmarks.positions.map((p) => `${p.x.toFixed(3)} ${p.y.toFixed(3)}`).join(' '));
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
