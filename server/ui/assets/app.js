// Vizor console: plain JavaScript, no framework, no build step. It calls the
// server's own endpoints: /api/v1/{enrol,verify,search} (XML answers),
// /partitions, /stats and /health (JSON), and /ui/api/detect (JSON: every
// face with its box and landmarks, which the XML API does not list).
"use strict";

const KEY_STORE = "vizor.apiKey"; // session storage: gone when the tab closes
const PART_STORE = "vizor.partition";
const $ = (sel) => document.querySelector(sel);

const state = {
  gates: {},       // gate name -> {enabled, threshold, probe_threshold} from /health
  photos: {},      // op -> {blob, name} chosen from the file input or the camera
  cameraFor: null, // op whose form opened the camera
  stream: null,
};

// --- HTTP -------------------------------------------------------------------

function apiKey() { return sessionStorage.getItem(KEY_STORE) || ""; }

async function call(path, init = {}) {
  const headers = new Headers(init.headers || {});
  const key = apiKey();
  if (key) headers.set("x-api-key", key);
  return fetch(path, { ...init, headers });
}

// parseAnswer reads a JSON or XML body into {ok, status, json | xml, error}.
async function parseAnswer(resp) {
  const text = await resp.text();
  const ctype = resp.headers.get("content-type") || "";
  const out = { ok: resp.ok, status: resp.status };
  if (ctype.includes("json")) {
    try { out.json = JSON.parse(text); } catch (e) { out.json = null; }
    if (!resp.ok) out.error = { code: out.json?.code || "error", message: out.json?.message || text };
  } else if (ctype.includes("xml")) {
    out.xml = new DOMParser().parseFromString(text, "application/xml");
    if (!resp.ok || out.xml.documentElement.tagName === "ErrorResponse") {
      const x = out.xml;
      out.ok = false;
      out.error = {
        code: xt(x, "code"), message: xt(x, "message"), gate: xt(x, "gate"),
        score: num(xt(x, "gate_score")), threshold: num(xt(x, "threshold")),
      };
    }
  } else if (!resp.ok) {
    out.error = { code: "http_" + resp.status, message: text.slice(0, 300) };
  }
  return out;
}

// xt is the text of the first element named tag (a path of names with /).
function xt(node, tag) {
  let cur = node;
  for (const name of tag.split("/")) {
    cur = cur && cur.getElementsByTagName(name)[0];
  }
  return cur ? cur.textContent : "";
}
function num(s) { return s === "" || s == null ? null : Number(s); }
function fmt(v, digits = 3) { return v == null || Number.isNaN(v) ? "–" : Number(v).toFixed(digits); }

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}

// --- server status, partitions, stats ------------------------------------------

async function loadHealth() {
  try {
    const r = await parseAnswer(await fetch("/health"));
    const h = r.json || {};
    for (const g of h.gates || []) state.gates[g.gate] = g;
    $("#server-status").textContent = `server ${h.status || "?"} · model ${h.model_id || "?"}`;
    const pad = state.gates.pad, q = state.gates.quality;
    const parts = [];
    if (pad) {
      const pol = pad.default_policy ? `, default policy ${pad.default_policy}` : "";
      parts.push(pad.enabled ? `PAD: live score below ${pad.threshold} is a spoof${pol}` : "PAD gate off");
    }
    if (q) parts.push(`quality gate: enrol ${q.threshold}, probes ${q.probe_threshold}`);
    parts.push(state.gates.mad && state.gates.mad.enabled ? "MAD gate on (enrol)" : "MAD gate off (no morph model)");
    $("#gates-note").textContent = parts.join(" · ");
  } catch (e) {
    $("#server-status").textContent = "server unreachable";
  }
}

async function loadStats() {
  const tbody = $("#stats tbody");
  const [pr, sr] = await Promise.all([call("/partitions").then(parseAnswer), call("/stats").then(parseAnswer)]);
  tbody.replaceChildren();
  if (!pr.ok || !sr.ok) {
    const err = pr.error || sr.error;
    tbody.append(el("tr", {}, el("td", { colspan: "3", class: "bad", text: explainHTTP(err) })));
    return;
  }
  const list = $("#partition-list");
  list.replaceChildren();
  const names = pr.json.partitions || [];
  const st = sr.json;
  for (const p of names) {
    list.append(el("option", { value: p }));
    const row = el("tr", { "data-partition": p },
      el("td", { text: p }),
      el("td", { text: String(st.partitions?.[p] ?? 0) }),
      el("td", { text: String(st.templates_by_partition?.[p] ?? 0) }));
    if (p === currentPartition()) row.classList.add("current");
    row.addEventListener("click", () => { setPartition(p); });
    tbody.append(row);
  }
  if (!names.length) tbody.append(el("tr", {}, el("td", { colspan: "3", class: "muted", text: "no partitions yet: enrol someone" })));
  $("#total-subjects").textContent = String(st.total_subjects ?? 0);
  $("#total-templates").textContent = String(st.total_templates ?? 0);
}

function currentPartition() { return $("#partition").value.trim(); }
function setPartition(p) {
  $("#partition").value = p;
  sessionStorage.setItem(PART_STORE, p);
  for (const row of document.querySelectorAll("#stats tbody tr")) {
    row.classList.toggle("current", row.dataset.partition === p);
  }
}

function explainHTTP(err) {
  if (!err) return "";
  if (err.code === "unauthorized") return "This server needs an API key: type it above and press “Use key”.";
  if (err.code === "forbidden") return "This API key may not do that (operation or partition outside its scope).";
  return `${err.code}: ${err.message}`;
}

// --- photos: file inputs and the camera ----------------------------------------

function wireFileInput(op) {
  $(`#${op}-file`).addEventListener("change", (ev) => {
    const f = ev.target.files[0];
    if (f) {
      state.photos[op] = { blob: f, name: f.name };
      showPhoto(f, []).catch(() => {});
    }
  });
}

async function openCamera(op) {
  state.cameraFor = op;
  if (!navigator.mediaDevices?.getUserMedia) {
    showMessage("bad", "No camera here: browsers offer the camera only on secure (TLS) pages or on localhost.");
    return;
  }
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 } });
  } catch (e) {
    showMessage("bad", "The camera could not be opened: " + e.message);
    return;
  }
  $("#video").srcObject = state.stream;
  $("#camera").hidden = false;
}

function closeCamera() {
  if (state.stream) for (const t of state.stream.getTracks()) t.stop();
  state.stream = null;
  $("#camera").hidden = true;
}

function snap() {
  const v = $("#video");
  const c = document.createElement("canvas");
  c.width = v.videoWidth; c.height = v.videoHeight;
  c.getContext("2d").drawImage(v, 0, 0);
  c.toBlob((blob) => {
    const op = state.cameraFor;
    state.photos[op] = { blob, name: "camera.jpg" };
    $(`#${op}-file`).value = "";
    closeCamera();
    showPhoto(blob, []).catch(() => {});
    showMessage("muted", `Camera photo taken: press ${op[0].toUpperCase() + op.slice(1)}.`);
  }, "image/jpeg", 0.92);
}

// --- drawing -------------------------------------------------------------------

let shownURL = null;

// showPhoto draws the photo with its faces: chosen (the box the server used)
// in green, the others in grey, landmarks as dots.
async function showPhoto(blob, faces, chosen) {
  if (shownURL) URL.revokeObjectURL(shownURL);
  shownURL = URL.createObjectURL(blob);
  const img = new Image();
  img.src = shownURL;
  await img.decode();
  const c = $("#photo");
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext("2d");
  g.drawImage(img, 0, 0);
  const lw = Math.max(2, Math.round(Math.max(c.width, c.height) / 300));
  faces.forEach((f, i) => {
    const used = i === chosen;
    g.lineWidth = used ? lw * 1.5 : lw;
    g.strokeStyle = used ? "#34d058" : "rgba(220,220,220,.9)";
    g.strokeRect(f.box.x, f.box.y, f.box.w, f.box.h);
    g.fillStyle = used ? "#ffd33d" : "rgba(255,255,255,.85)";
    for (const p of f.landmarks || []) {
      g.beginPath(); g.arc(p.x, p.y, lw * 1.3, 0, 2 * Math.PI); g.fill();
    }
    g.font = `${Math.max(12, lw * 7)}px system-ui, sans-serif`;
    g.fillStyle = used ? "#34d058" : "#ddd";
    g.fillText(`#${i}${used ? " used" : ""}`, f.box.x, Math.max(12, f.box.y - lw * 2));
  });
}

// chosenFace finds, among the detected faces, the one whose box best
// overlaps the box the server reports for the face it used.
function chosenFace(faces, box) {
  if (!box) return faces.length ? 0 : -1;
  let best = -1, bestIoU = 0;
  faces.forEach((f, i) => {
    const x1 = Math.max(f.box.x, box.x), y1 = Math.max(f.box.y, box.y);
    const x2 = Math.min(f.box.x + f.box.w, box.x + box.w), y2 = Math.min(f.box.y + f.box.h, box.y + box.h);
    const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
    const iou = inter / (f.box.w * f.box.h + box.w * box.h - inter);
    if (iou > bestIoU) { bestIoU = iou; best = i; }
  });
  return best;
}

// --- gates in words ------------------------------------------------------------

const GATE_ORDER = ["detection", "alignment", "pad", "mad", "quality", "extraction"];

// gateLines explains each gate: passed (with the score), failed (with the
// score, the threshold and what it usually means), off, or not reached.
function gateLines(op, info, err) {
  const failed = err && err.gate;
  const failedAt = failed ? GATE_ORDER.indexOf(err.gate) : GATE_ORDER.length;
  const lines = [];
  GATE_ORDER.forEach((gate, i) => {
    if (gate === "mad" && op !== "enrol") return;
    const g = state.gates[gate] || {};
    let cls = "pass", text;
    if (i > failedAt) {
      lines.push({ cls: "off", text: `${GATE_NAMES[gate]}: not reached.` });
      return;
    }
    if (i === failedAt) {
      cls = "fail";
      text = FAIL_WORDS[gate](err);
    } else {
      const r = PASS_WORDS[gate](op, info, g);
      cls = r.cls; text = r.text;
    }
    lines.push({ cls, text });
  });
  return lines;
}

const GATE_NAMES = {
  detection: "Face detection", alignment: "Landmarks and alignment", pad: "Presentation attack detection (PAD)",
  mad: "Morphing attack detection (MAD)", quality: "Quality", extraction: "Template extraction",
};

const PASS_WORDS = {
  detection: (op, info) => ({
    cls: "pass",
    text: `Face detection: ${info.faces} face${info.faces === 1 ? "" : "s"} found` +
      (info.faces > 1 ? `; the ${info.selection === "largest" ? "largest" : "requested"} one (#${info.index}) was used` : "") +
      ` (detector confidence ${fmt(info.det, 3)}).`,
  }),
  alignment: () => ({ cls: "pass", text: "Landmarks and alignment: eyes, nose and mouth located; the face was aligned." }),
  pad: (op, info, g) => {
    const p = info.pad;
    if (p) {
      // The server's own verdict (<face><pad>): policy, outcome, score.
      const head = `PAD (${p.policy}): `;
      if (p.outcome === "live") {
        return { cls: "pass", text: head + `liveness ${fmt(p.score)} is at or above ${fmt(p.threshold)}: a live face, not a print, a screen or a mask.` };
      }
      if (p.outcome === "spoof") {
        return { cls: "warn", text: head + `liveness ${fmt(p.score)} is below ${fmt(p.threshold)}: this looks like a printed photo, a screen or a mask. ` +
          `The ${p.policy} policy only reports it, so the request went on.` };
      }
      return { cls: "warn", text: head + `PAD could not judge this face (${PAD_REASONS[p.reason] || p.reason || "no score"}); the ${p.policy} policy lets it through.` };
    }
    if (!g.enabled || info.liveness == null) return { cls: "off", text: "PAD: off for this request (no liveness check)." };
    return { cls: "pass", text: `PAD: liveness ${fmt(info.liveness)} is at or above ${g.threshold}: a live face, not a print, a screen or a mask.` };
  },
  mad: (op, info, g) => g.enabled
    ? { cls: "pass", text: "MAD: no sign of a morphed photo." }
    : { cls: "off", text: "MAD: off (no morphing-attack model is configured), the photo was not checked for morphing." },
  quality: (op, info, g) => {
    const t = op === "enrol" ? g.threshold : g.probe_threshold;
    return { cls: "pass", text: `Quality: ${fmt(info.quality)} is at or above the ${op === "enrol" ? "enrolment" : "probe"} threshold ${t ?? "?"}.` };
  },
  extraction: () => ({ cls: "pass", text: "Template extraction: a 512-number face template was computed." }),
};

const PAD_REASONS = {
  greyscale: "a greyscale photo carries no colour cue",
  face_too_small: "the face is too small for the PAD model",
  not_computed: "no liveness score was computed",
};

const FAIL_WORDS = {
  detection: () => "Face detection failed: no face was found in this photo. Use a photo where the face is visible, lit and not tiny.",
  alignment: () => "Alignment failed: a face was found but its eyes, nose and mouth could not be located (covered, cut off or blurred).",
  pad: (e) => e.score == null
    ? `Refused by presentation attack detection: ${e.message}. The strict policy refuses faces PAD cannot judge (greyscale, too small).`
    : `Refused by presentation attack detection: liveness ${fmt(e.score)} is below the threshold ${fmt(e.threshold)}. ` +
      "The photo looks like a spoof: a printed photo, a phone or monitor screen, or a mask held to the camera.",
  mad: (e) => `Refused by morphing attack detection: morph score ${fmt(e.score)} is at or above ${fmt(e.threshold)}: the photo may blend two people.`,
  quality: (e) => `Refused by the quality gate: quality ${fmt(e.score)} is below the threshold ${fmt(e.threshold)}. ` +
    "The face is too small, blurred, badly lit, or turned away (a profile): use a sharp, frontal photo.",
  extraction: () => "Template extraction failed: no template could be computed for this face.",
};

// --- operations ------------------------------------------------------------------

function showMessage(cls, text) {
  $("#result").replaceChildren(el("p", { class: cls, text }));
}

async function detect(blob) {
  try {
    const r = await parseAnswer(await call("/ui/api/detect", {
      method: "POST", body: blob, headers: { "content-type": blob.type || "application/octet-stream" },
    }));
    if (r.ok && r.json) return { faces: r.json.faces || [] };
    return { faces: [], note: r.error ? explainHTTP(r.error) : "" };
  } catch (e) {
    return { faces: [], note: e.message };
  }
}

async function runOp(op, form) {
  const photo = state.photos[op];
  if (!photo) { showMessage("bad", "Choose a photo first (file or camera)."); return; }
  const part = currentPartition();
  if (!part) { showMessage("bad", "Choose or type a partition first."); return; }
  sessionStorage.setItem(PART_STORE, part);
  const body = new FormData();
  body.append("image", photo.blob, photo.name);
  body.append("partition", part);
  if (op !== "search") body.append("subject_id", form.querySelector("[name=subject_id]").value.trim());
  if (op === "search") body.append("top_k", form.querySelector("[name=top_k]").value || "5");
  const pad = $("#pad-policy").value;
  if (pad) body.append("pad_policy", pad);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  showMessage("muted", "Working…");
  try {
    const [det, r] = await Promise.all([
      detect(photo.blob),
      call(`/api/v1/${op}`, { method: "POST", body }).then(parseAnswer),
    ]);
    const x = r.xml;
    const box = x && x.getElementsByTagName("box")[0];
    const usedBox = box ? { x: +box.getAttribute("x"), y: +box.getAttribute("y"), w: +box.getAttribute("width"), h: +box.getAttribute("height") } : null;
    const chosen = r.ok ? chosenFace(det.faces, usedBox) : (det.faces.length ? 0 : -1);
    await showPhoto(photo.blob, det.faces, chosen);
    render(op, r, det, chosen);
    if (r.ok && op === "enrol") loadStats();
  } catch (e) {
    showMessage("bad", "The request failed: " + e.message);
  } finally {
    button.disabled = false;
  }
}

function render(op, r, det, chosen) {
  const out = $("#result");
  out.replaceChildren();
  out.dataset.op = op;
  out.dataset.outcome = r.ok ? "ok" : (r.error?.code || "error");
  const x = r.xml;
  const face = chosen >= 0 ? det.faces[chosen] : null;
  // The face element comes with a successful answer; a refusal has only
  // the gate's score, so the rest comes from the detection call.
  const fx = r.ok ? x : null;
  const info = {
    faces: fx ? Number(xt(fx, "face/faces_detected")) || det.faces.length : det.faces.length,
    index: fx ? xt(fx, "face/index") : "0",
    selection: fx ? xt(fx, "face/selection") : "largest",
    det: fx ? num(xt(fx, "face/detection_score")) : face?.det_score,
    liveness: fx && xt(fx, "face/liveness_score") !== "" ? num(xt(fx, "face/liveness_score")) : face?.liveness,
    quality: fx ? num(xt(fx, "quality_score")) : face?.quality,
    pad: fx ? padOf(fx) : null,
  };
  if (!r.ok) {
    const err = r.error || { code: "error", message: "" };
    out.append(el("h3", { class: "bad", id: "outcome", text: `Refused: ${err.code}` }));
    if (!err.gate) {
      out.append(el("p", { id: "reason", text: explainHTTP(err) }));
    } else {
      out.append(el("p", { id: "reason", class: "muted", text: err.message }));
      const ul = el("ul", { class: "gates" });
      for (const l of gateLines(op, info, err)) ul.append(el("li", { class: l.cls, text: l.text }));
      out.append(ul);
    }
  } else if (op === "enrol") {
    out.append(el("h3", { class: "ok", id: "outcome", text: `Enrolled ${xt(x, "subject_id")}` }));
    out.append(kv([["partition", xt(x, "partition")], ["template id", xt(x, "template_id")],
      ["quality", xt(x, "quality_score")], ["model", xt(x, "model_id")]]));
  } else if (op === "verify") {
    const match = xt(x, "match") === "true";
    const score = num(xt(x, "score")), th = num(xt(x, "threshold"));
    out.append(el("h3", { class: match ? "ok" : "bad", id: "outcome", text: match ? `Match: ${xt(x, "subject_id")}` : `No match: not ${xt(x, "subject_id")}` }));
    out.append(el("p", { id: "verify-score", text: `Similarity ${fmt(score)} ${match ? "≥" : "<"} threshold ${fmt(th)}.` }));
    out.append(kv([["partition", xt(x, "partition")], ["quality", xt(x, "quality_score")], ["model", xt(x, "model_id")]]));
  } else {
    const cands = [...x.getElementsByTagName("candidate")];
    out.append(el("h3", { class: cands.length ? "ok" : "warn", id: "outcome",
      text: cands.length ? `Best match: ${xt(cands[0], "subject_id")}` : "No candidates" }));
    const t = el("table", { id: "candidates" }, el("thead", {}, el("tr", {},
      el("th", { text: "#" }), el("th", { text: "subject" }), el("th", { text: "score" }), el("th", { text: "" }))));
    const tb = el("tbody");
    for (const c of cands) {
      const s = num(xt(c, "score"));
      tb.append(el("tr", {}, el("td", { text: xt(c, "rank") }), el("td", { text: xt(c, "subject_id") }),
        el("td", { text: fmt(s) }), el("td", {}, bar(s))));
    }
    t.append(tb);
    out.append(t);
    out.append(kv([["partition", xt(x, "partition")], ["quality", xt(x, "quality_score")]]));
  }
  if (r.ok) {
    const ul = el("ul", { class: "gates" });
    for (const l of gateLines(op, info, null)) ul.append(el("li", { class: l.cls, text: l.text }));
    out.append(el("h4", { text: "Gates" }), ul);
  }
  if (det.note) out.append(el("p", { class: "muted", text: "Boxes not drawn: " + det.note }));
}

// bar is a score bar; its width is set through CSSOM, which the page's
// Content-Security-Policy allows (an inline style attribute it refuses).
function bar(score) {
  const b = el("span", { class: "score-bar" });
  b.style.width = `${Math.max(2, Math.round(Math.max(0, score) * 100))}px`;
  return b;
}

// padOf reads <face><pad> (policy, outcome, score, threshold, reason), the
// server's PAD verdict on the face it used; null when it sent none.
function padOf(x) {
  const face = x.getElementsByTagName("face")[0];
  const p = face && face.getElementsByTagName("pad")[0];
  if (!p) return null;
  return { policy: xt(p, "policy"), outcome: xt(p, "outcome"), score: num(xt(p, "score")),
    threshold: num(xt(p, "threshold")), reason: xt(p, "reason") };
}

function kv(pairs) {
  const dl = el("dl", { class: "kv" });
  for (const [k, v] of pairs) dl.append(el("dt", { text: k }), el("dd", { text: v || "–" }));
  return dl;
}

// --- start ---------------------------------------------------------------------

function init() {
  $("#api-key").value = apiKey();
  $("#key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const k = $("#api-key").value.trim();
    if (k) sessionStorage.setItem(KEY_STORE, k); else sessionStorage.removeItem(KEY_STORE);
    loadStats();
  });
  const saved = sessionStorage.getItem(PART_STORE);
  if (saved) $("#partition").value = saved;
  $("#partition").addEventListener("change", () => setPartition(currentPartition()));
  for (const b of document.querySelectorAll("#tabs button")) {
    b.addEventListener("click", () => {
      for (const o of document.querySelectorAll("#tabs button")) o.classList.toggle("active", o === b);
      for (const f of document.querySelectorAll("form.op")) f.hidden = f.dataset.op !== b.dataset.tab;
    });
  }
  for (const f of document.querySelectorAll("form.op")) {
    const op = f.dataset.op;
    wireFileInput(op);
    f.addEventListener("submit", (ev) => { ev.preventDefault(); runOp(op, f); });
    f.querySelector("button.camera").addEventListener("click", () => openCamera(op));
  }
  $("#snap").addEventListener("click", snap);
  $("#camera-close").addEventListener("click", closeCamera);
  $("#refresh").addEventListener("click", loadStats);
  loadHealth();
  loadStats();
}

document.addEventListener("DOMContentLoaded", init);
