// The faceplugin-face-recognition-js@0.0.1 SDK pipeline (lib/fr_detect.js,
// fr_landmark.js, fr_feature.js, fr_liveness.js) re-implemented for Node.js:
// the SDK needs a browser canvas and opencv.js, so each step is written out
// here with the same constants and the same quirks (noted inline). Models
// run on onnxruntime-node (CPU). Decoding uses jpeg-js.
//
//   node pipeline.js --models ../../../models --image probe.jpg --runs 20 [--threads 1]
//   node pipeline.js --models ... --templates LIST   (one image path per line; prints templates)
//
// Prints one JSON object on stdout.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');
const jpeg = require('jpeg-js');

function args() {
  const a = { models: 'models', image: '', runs: 20, warmup: 3, threads: 1, templates: '' };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) a[v[i].replace(/^--/, '')] = v[i + 1];
  a.runs = +a.runs; a.warmup = +a.warmup; a.threads = +a.threads;
  return a;
}

// An RGBA image, as cv.imread(canvas) gives the SDK.
function decode(buf) {
  const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
  return { w: img.width, h: img.height, c: 4, data: img.data };
}

function crop(img, x, y, w, h) {
  const out = new Uint8Array(w * h * img.c);
  for (let r = 0; r < h; r++) {
    const s = ((y + r) * img.w + x) * img.c;
    out.set(img.data.subarray(s, s + w * img.c), r * w * img.c);
  }
  return { w, h, c: img.c, data: out };
}

// cv.resize with INTER_LINEAR: pixel-centre aligned bilinear.
function resize(img, dw, dh) {
  const { w, h, c, data } = img;
  const out = new Uint8Array(dw * dh * c);
  const sx = w / dw, sy = h / dh;
  for (let y = 0; y < dh; y++) {
    let fy = (y + 0.5) * sy - 0.5; if (fy < 0) fy = 0;
    let y0 = Math.floor(fy); if (y0 > h - 1) y0 = h - 1;
    const y1 = Math.min(y0 + 1, h - 1), wy = fy - y0;
    for (let x = 0; x < dw; x++) {
      let fx = (x + 0.5) * sx - 0.5; if (fx < 0) fx = 0;
      let x0 = Math.floor(fx); if (x0 > w - 1) x0 = w - 1;
      const x1 = Math.min(x0 + 1, w - 1), wx = fx - x0;
      for (let k = 0; k < c; k++) {
        const a = data[(y0 * w + x0) * c + k], b = data[(y0 * w + x1) * c + k];
        const d = data[(y1 * w + x0) * c + k], e = data[(y1 * w + x1) * c + k];
        out[(y * dw + x) * c + k] = Math.round((a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy);
      }
    }
  }
  return { w: dw, h: dh, c, data: out };
}

// CHW float tensor from channels `order` of an interleaved image.
function chw(img, order, mean, std) {
  const n = img.w * img.h, t = new Float32Array(order.length * n);
  for (let k = 0; k < order.length; k++)
    for (let i = 0; i < n; i++) t[k * n + i] = (img.data[i * img.c + order[k]] - mean) / std;
  return t;
}

async function detect(sess, img) {
  // cv.resize to 320x240 then cvtColor(COLOR_BGR2RGB) on the RGBA mat: that
  // swaps channels 0 and 2, so the model is fed B,G,R (an SDK quirk kept).
  const small = resize(img, 320, 240);
  const input = new ort.Tensor('float32', chw(small, [2, 1, 0], 127, 128), [1, 3, 240, 320]);
  const out = await sess.run({ input });
  const boxes = out.boxes.data, scores = out.scores.data, n = scores.length / 2;
  let cand = [];
  for (let i = 0; i < n; i++) {
    const s = scores[i * 2 + 1];
    if (s >= 0.65) cand.push({ s, x1: boxes[i * 4] * 320, y1: boxes[i * 4 + 1] * 240, x2: boxes[i * 4 + 2] * 320, y2: boxes[i * 4 + 3] * 240 });
  }
  cand.sort((a, b) => b.s - a.s);
  cand = cand.slice(0, 750);
  // The SDK's NMS: by ascending y2; overlap is intersection over the other
  // box's area (with +1 pixel terms), suppressed at >= 0.4.
  let found = cand.map((b) => ({ ...b, area: (b.x2 - b.x1) * (b.y2 - b.y1) })).filter((b) => b.x2 > b.x1 && b.y2 > b.y1);
  found.sort((a, b) => a.y2 - b.y2);
  const picked = [];
  while (found.length) {
    const last = found[0];
    picked.push(last);
    found = found.slice(1).filter((b) => {
      const w = Math.max(0, Math.min(b.x2, last.x2) - Math.max(b.x1, last.x1) + 1);
      const h = Math.max(0, Math.min(b.y2, last.y2) - Math.max(b.y1, last.y1) + 1);
      return (w * h) / b.area < 0.4;
    });
  }
  const rx = img.w / 320, ry = img.h / 240;
  return picked.map((b) => {
    const x1 = b.x1 * rx, y1 = b.y1 * ry, x2 = b.x2 * rx, y2 = b.y2 * ry;
    const f = y2 - y1, cx = (x1 + x2) / 2, cy = (y1 + y2) / 2; // squared on the height
    return {
      score: b.s,
      x1: Math.max(0, cx - f / 2), y1: Math.max(0, cy - f / 2),
      x2: Math.min(img.w - 1, cx + f / 2), y2: Math.min(img.h - 1, cy + f / 2),
    };
  });
}

// alignLandmarkImage / alignLivenessImage: a box scaled about its centre,
// shifted back inside the image, cropped.
function scaledCrop(img, bx, by, bw, bh, scaleValue) {
  const scale = Math.min((img.h - 1) / bh, (img.w - 1) / bw, scaleValue);
  const nw = bw * scale, nh = bh * scale, cx = bw / 2 + bx, cy = bh / 2 + by;
  let l = cx - nw / 2, t = cy - nh / 2, r = cx + nw / 2, b = cy + nh / 2;
  if (l < 0) { r -= l; l = 0; }
  if (t < 0) { b -= t; t = 0; }
  if (r > img.w - 1) { l -= r - img.w + 1; r = img.w - 1; }
  if (b > img.h - 1) { t -= b - img.h + 1; b = img.h - 1; }
  const x = Math.max(Math.trunc(l), 0), y = Math.max(Math.trunc(t), 0);
  const w = Math.min(Math.trunc(r - l), img.w - 1), h = Math.min(Math.trunc(b - t), img.h - 1);
  return crop(img, x, y, Math.min(w, img.w - x), Math.min(h, img.h - y));
}

function boxInts(f) {
  const x1 = Math.trunc(f.x1), y1 = Math.trunc(f.y1), x2 = Math.trunc(f.x2), y2 = Math.trunc(f.y2);
  return [x1, y1, Math.abs(x2 - x1), Math.abs(y2 - y1)];
}

async function landmarks(sess, img, face) {
  const [x1, y1, w, h] = boxInts(face);
  const small = resize(scaledCrop(img, x1, y1, w, h, 1.0), 64, 64);
  // cvtColor(COLOR_BGR2GRAY) on RGBA: channel 0 weighted as blue (quirk kept).
  const g = new Float32Array(64 * 64);
  for (let i = 0; i < g.length; i++) {
    const p = small.data.subarray(i * 4, i * 4 + 3);
    g[i] = Math.round(0.114 * p[0] + 0.587 * p[1] + 0.299 * p[2]) / 256;
  }
  const out = await sess.run({ input: new ort.Tensor('float32', g, [1, 1, 64, 64]) });
  const v = Array.from(out.output.data);
  return v.map((x, i) => (i % 2 === 0 ? Math.trunc(x * w + x1) : Math.trunc(x * h + y1)));
}

const REF = [[38.29459953, 51.69630051], [73.53179932, 51.50139999], [56.02519989, 71.73660278]];

function fivePoints(l) {
  const avg = (...i) => i.reduce((s, k) => s + l[k], 0) / i.length;
  return [[avg(74, 76, 80, 82), avg(75, 77, 81, 83)], [avg(86, 88, 92, 94), avg(87, 89, 93, 95)], [l[60], l[61]]];
}

// cv.getAffineTransform for three point pairs: solve for [a b c; d e f].
function affine3(src, dst) {
  const [[x0, y0], [x1, y1], [x2, y2]] = src;
  const det = x0 * (y1 - y2) - y0 * (x1 - x2) + (x1 * y2 - x2 * y1);
  const solve = (u0, u1, u2) => [
    (u0 * (y1 - y2) - y0 * (u1 - u2) + (u1 * y2 - u2 * y1)) / det,
    (x0 * (u1 - u2) - u0 * (x1 - x2) + (x1 * u2 - x2 * u1)) / det,
    (x0 * (y1 * u2 - y2 * u1) - y0 * (x1 * u2 - x2 * u1) + u0 * (x1 * y2 - x2 * y1)) / det,
  ];
  return [solve(dst[0][0], dst[1][0], dst[2][0]), solve(dst[0][1], dst[1][1], dst[2][1])];
}

// cv.warpAffine (bilinear, constant 0 border) to w x h.
function warp(img, m, w, h) {
  const [[a, b, c], [d, e, f]] = m, det = a * e - b * d;
  const ia = e / det, ib = -b / det, id = -d / det, ie = a / det;
  const ic = -(ia * c + ib * f), iff = -(id * c + ie * f);
  const out = new Uint8Array(w * h * img.c);
  const px = (x, y, k) => (x < 0 || y < 0 || x >= img.w || y >= img.h ? 0 : img.data[(y * img.w + x) * img.c + k]);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const sx = ia * x + ib * y + ic, sy = id * x + ie * y + iff;
      const x0 = Math.floor(sx), y0 = Math.floor(sy), wx = sx - x0, wy = sy - y0;
      for (let k = 0; k < img.c; k++) {
        const v = (px(x0, y0, k) * (1 - wx) + px(x0 + 1, y0, k) * wx) * (1 - wy) + (px(x0, y0 + 1, k) * (1 - wx) + px(x0 + 1, y0 + 1, k) * wx) * wy;
        out[(y * w + x) * img.c + k] = Math.round(v);
      }
    }
  return { w, h, c: img.c, data: out };
}

async function embed(sess, img, lm) {
  const aligned = warp(img, affine3(fivePoints(lm), REF), 112, 112);
  const input = new ort.Tensor('float32', chw(aligned, [0, 1, 2], 127, 128), [1, 3, 112, 112]);
  const out = await sess.run({ input });
  const v = Array.from(out[sess.outputNames[0]].data);
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => x / n);
}

async function liveness(sess, img, face) {
  const [x1, y1, w, h] = boxInts(face);
  const small = resize(scaledCrop(img, x1, y1, w, h, 2.7), 128, 128);
  const out = await sess.run({ input: new ort.Tensor('float32', chw(small, [0, 1, 2], 0, 1), [1, 3, 128, 128]) });
  const z = Array.from(out.output.data), m = Math.max(...z), e = z.map((x) => Math.exp(x - m)), s = e.reduce((p, q) => p + q, 0);
  return e[0] / s;
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

async function analyse(S, buf) {
  const t = {}; let t0 = now();
  const img = decode(buf); t.decode = now() - t0; t0 = now();
  const faces = await detect(S.det, img); t.detect = now() - t0;
  t.landmarks = 0; t.embed = 0; t.liveness = 0;
  const results = [];
  for (const f of faces) {
    t0 = now(); const lm = await landmarks(S.lmk, img, f); t.landmarks += now() - t0;
    t0 = now(); const tpl = await embed(S.rec, img, lm); t.embed += now() - t0;
    t0 = now(); const live = await liveness(S.live, img, f); t.liveness += now() - t0;
    results.push({ box: f, template: tpl, liveness: live });
  }
  t.total = t.decode + t.detect + t.landmarks + t.embed + t.liveness;
  return { faces: results, t };
}

function median(xs) { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; }

async function main() {
  const a = args();
  const opt = { intraOpNumThreads: a.threads, interOpNumThreads: 1, executionProviders: ['cpu'], graphOptimizationLevel: 'all' };
  const load = (f) => ort.InferenceSession.create(path.join(a.models, f), opt);
  const S = { det: await load('fr_detect.onnx'), lmk: await load('fr_landmark.onnx'), rec: await load('fr_feature.onnx'), live: await load('fr_liveness.onnx') };
  if (a.templates) {
    const files = fs.readFileSync(a.templates, 'utf8').split('\n').filter(Boolean);
    const out = {};
    for (const f of files) {
      const r = await analyse(S, fs.readFileSync(f));
      const big = r.faces.sort((p, q) => (q.box.x2 - q.box.x1) * (q.box.y2 - q.box.y1) - (p.box.x2 - p.box.x1) * (p.box.y2 - p.box.y1))[0];
      out[path.basename(f)] = big ? big.template : null;
      process.stderr.write(`templates ${Object.keys(out).length}/${files.length}\r`);
    }
    process.stderr.write('\n');
    console.log(JSON.stringify({ templates: out }));
    return;
  }
  const buf = fs.readFileSync(a.image);
  for (let i = 0; i < a.warmup; i++) await analyse(S, buf);
  const runs = [];
  let faces = 0;
  for (let i = 0; i < a.runs; i++) {
    const r = await analyse(S, buf);
    faces = r.faces.length;
    runs.push(r.t);
    if (process.stderr.isTTY || i === a.runs - 1 || i % 10 === 9) process.stderr.write(`node reference: run ${i + 1}/${a.runs}\n`);
  }
  const stages = {};
  for (const k of Object.keys(runs[0])) stages[k] = median(runs.map((r) => r[k]));
  console.log(JSON.stringify({
    runtime: `node ${process.version}, onnxruntime-node ${ort.env.versions.node || ''}`,
    threads: a.threads, runs: a.runs, faces, median_ms: stages,
  }));
}

main().catch((e) => { console.error(e); process.exit(1); });
