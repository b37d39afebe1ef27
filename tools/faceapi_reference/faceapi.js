// faceapi.js — face-api (@vladmandic/face-api) in Node on TF.js's wasm backend, loaded from
// the local package folder (no network): shared by the reference scripts here.
//   const { faceapi, ready, rgbTensor } = require('./faceapi');
//   const modelDir = await ready();   // backend set; the folder holding face-api's models
const path = require('path');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const wasm = require('@tensorflow/tfjs-backend-wasm');

async function ready() {
  const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(wasmDir + '/', false);
  await faceapi.tf.setBackend('wasm');
  await faceapi.tf.ready();
  return path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
}

// An int32 H x W x 3 tensor from RGBA (PNG, jpeg-js) pixels.
function rgbTensor(rgba, w, h) {
  const rgb = new Int32Array(w * h * 3);
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = rgba[i * 4 + c];
  return faceapi.tf.tensor3d(rgb, [h, w, 3], 'int32');
}

module.exports = { faceapi, ready, rgbTensor };
