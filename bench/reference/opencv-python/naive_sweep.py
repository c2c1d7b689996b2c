#!/usr/bin/python3
"""Naive reference pipeline of the faceplugin models, and a sweep of its
arbitrary choices, to see how much of the rank-1 figure on the test photos is
the models and how much is the coin flip of small pipeline details.

The pipeline is the one issue 2 describes for its reference measurement
(OpenCV DNN from Python, one face per photo): UltraFace on the whole image
resized to 320x240, the highest-scoring box, 68 landmarks from a 64x64 grey
crop of that box, 5 points, a least-squares similarity warp onto the ArcFace
112x112 template, fr_feature, cosine. Six details that the SDK or the issue
leave open are swept (2^5 x 3 = 96 variants):

  det   detector input channel order: RGB (SDK) or BGR
  sq    landmark crop: the box squared on its height (SDK) or the raw box
  int   box corners truncated to integers (SDK parseInt) or kept as floats
  eye   eye centre: mean of 4 lid points (SDK) or of the 6 contour points
  mouth mouth corner: outer+inner lip corner averaged (SDK) or outer only
  emb   recogniser input: RGB (SDK), BGR, or GRAY (the crop's luminance on
        all three planes, what Vizor feeds it)

For each variant it reports AUC over all same/different pairs (profile
jimin3.jpg excluded, as in the issue), the score ranges, and rank-1 with the
first photo of each person (by file name) enrolled.

Needs Debian's python3-opencv (OpenCV 4.6, numpy). Not part of `make test`:

  /usr/bin/python3 bench/reference/opencv-python/naive_sweep.py \
      --faces ../shared/data/faces --models models \
      [--vizor vizor.json] > docs/accuracy/naive-sweep.md

--vizor takes `bin/vizor analyze -template -attributes=false FILES` output and
adds Vizor's own templates as a row, for comparison.
"""
import argparse
import collections
import itertools
import json
import os
import sys

import cv2
import numpy as np

ARCFACE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]], np.float32)
PROFILE = "jimin3.jpg"


def read_labels(faces_dir):
    out = []
    with open(os.path.join(faces_dir, "LABELS.tsv")) as f:
        next(f)
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if cols[1] != "-" and cols[0] != PROFILE:
                out.append((cols[0], cols[1]))
    return sorted(out)


class Naive:
    def __init__(self, models):
        load = lambda n: cv2.dnn.readNetFromONNX(os.path.join(models, n + ".onnx"))
        self.det, self.lmk, self.rec = load("fr_detect"), load("fr_landmark"), load("fr_feature")
        self.det_out = self.det.getUnconnectedOutLayersNames()

    def detect(self, img, rgb):
        """Best box (x1, y1, x2, y2) in image pixels, from the whole image at 320x240."""
        h, w = img.shape[:2]
        blob = cv2.dnn.blobFromImage(img, 1 / 128, (320, 240), (127, 127, 127), swapRB=rgb)
        self.det.setInput(blob)
        out = dict(zip(self.det_out, self.det.forward(self.det_out)))
        scores = out["scores"].reshape(-1, 2)[:, 1]
        i = int(np.argmax(scores))
        return out["boxes"].reshape(-1, 4)[i] * [w, h, w, h]

    def landmarks(self, img, box, square, integer):
        h, w = img.shape[:2]
        x1, y1, x2, y2 = box
        if square:
            s, cx, cy = y2 - y1, (x1 + x2) / 2, (y1 + y2) / 2
            x1, y1 = max(0, cx - s / 2), max(0, cy - s / 2)
            x2, y2 = min(w - 1, cx + s / 2), min(h - 1, cy + s / 2)
        if integer:
            x1, y1, x2, y2 = int(x1), int(y1), int(x2), int(y2)
        bw, bh = x2 - x1, y2 - y1
        xi, yi = int(max(0, x1)), int(max(0, y1))
        crop = img[yi:int(yi + bh), xi:int(xi + bw)]
        grey = cv2.cvtColor(cv2.resize(crop, (64, 64)), cv2.COLOR_BGR2GRAY).astype(np.float32) / 256
        self.lmk.setInput(grey[None, None])
        return self.lmk.forward().reshape(68, 2) * [bw, bh] + [x1, y1]

    @staticmethod
    def five(p, eye6, outer_mouth):
        if eye6:
            le, re = p[36:42].mean(0), p[42:48].mean(0)
        else:
            le, re = p[[37, 38, 40, 41]].mean(0), p[[43, 44, 46, 47]].mean(0)
        ml = p[48] if outer_mouth else (p[48] + p[60]) / 2
        mr = p[54] if outer_mouth else (p[54] + p[64]) / 2
        return np.array([le, re, p[30], ml, mr], np.float32)

    def embed(self, img, pts5, order):
        m, _ = cv2.estimateAffinePartial2D(pts5, ARCFACE_112, method=cv2.LMEDS)
        face = cv2.warpAffine(img, m, (112, 112))
        if order == "GRAY":
            face = cv2.cvtColor(cv2.cvtColor(face, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        self.rec.setInput(cv2.dnn.blobFromImage(face, 1 / 128, (112, 112), (127, 127, 127), swapRB=order == "RGB"))
        e = self.rec.forward().reshape(-1)
        return e / np.linalg.norm(e)


def score(files, templates):
    """AUC, score ranges, rank-1 and the missed probes."""
    gen, imp = [], []
    for (fa, ia), (fb, ib) in itertools.combinations(files, 2):
        s = float(templates[fa] @ templates[fb])
        (gen if ia == ib else imp).append(s)
    g, i = np.array(gen), np.array(imp)
    auc = float((g[:, None] > i[None, :]).mean() + 0.5 * (g[:, None] == i[None, :]).mean())
    enrolled = {}
    for f, ident in files:
        enrolled.setdefault(ident, f)
    misses, probes = [], 0
    for f, ident in files:
        if enrolled[ident] == f:
            continue
        probes += 1
        best = max(enrolled, key=lambda k: templates[f] @ templates[enrolled[k]])
        if best != ident:
            misses.append(f)
    return dict(auc=auc, gmin=g.min(), gmed=np.median(g), imed=np.median(i), imax=i.max(),
                hits=probes - len(misses), probes=probes, misses=misses, pairs=(len(g), len(i)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--faces", default="../shared/data/faces")
    ap.add_argument("--models", default="models")
    ap.add_argument("--vizor", help="JSON from `vizor analyze -template` over the same photos")
    args = ap.parse_args()

    files = read_labels(args.faces)
    images = {f: cv2.imread(os.path.join(args.faces, f)) for f, _ in files}
    net = Naive(args.models)
    rows = []
    boxes, marks = {}, {}
    for det_rgb, square, integer, eye6, outer, emb in itertools.product([1, 0], [1, 0], [1, 0], [1, 0], [1, 0],
                                                                        ["RGB", "BGR", "GRAY"]):
        if det_rgb not in boxes:
            boxes[det_rgb] = {f: net.detect(images[f], det_rgb) for f, _ in files}
        key = (det_rgb, square, integer)
        if key not in marks:
            marks[key] = {f: net.landmarks(images[f], boxes[det_rgb][f], square, integer) for f, _ in files}
        t = {f: net.embed(images[f], net.five(marks[key][f], eye6, outer), emb) for f, _ in files}
        r = score(files, t)
        r["variant"] = (det_rgb, square, integer, eye6, outer, emb)
        rows.append(r)
        print("variant %s: rank-1 %d/%d AUC %.4f" % (r["variant"], r["hits"], r["probes"], r["auc"]), file=sys.stderr)

    w = sys.stdout.write
    n = len(rows)
    hits = collections.Counter(r["hits"] for r in rows)
    missed = collections.Counter(m for r in rows for m in r["misses"])
    aucs = sorted(r["auc"] for r in rows)
    probes = rows[0]["probes"]
    w("# Naive pipeline sweep: rank-1 and AUC on the test photos\n\n")
    w("Generated by `bench/reference/opencv-python/naive_sweep.py` (OpenCV %s DNN from Python, "
      "the faceplugin models). %d photos of 17 people, profile `%s` excluded: %d genuine and %d "
      "impostor pairs; rank-1 with the first photo of each person by file name enrolled, %d probes.\n\n"
      % (cv2.__version__, len(files), PROFILE, rows[0]["pairs"][0], rows[0]["pairs"][1], probes))
    w("The naive pipeline has six details the SDK or the issue leave open (see the script). "
      "Over all %d combinations:\n\n" % n)
    w("- AUC: min %.4f, median %.4f, max %.4f.\n" % (aucs[0], aucs[n // 2], aucs[-1]))
    w("- rank-1 (of %d): %s.\n" % (probes, ", ".join("%d in %d variants" % (k, hits[k]) for k in sorted(hits, reverse=True))))
    w("- probes missed, and by how many variants: %s.\n" % ", ".join("`%s` %d" % (m, c) for m, c in missed.most_common()))
    for emb in ("RGB", "BGR", "GRAY"):
        sel = [r for r in rows if r["variant"][5] == emb]
        w("- recogniser input %s (%d variants): mean AUC %.4f, mean rank-1 %.2f, rank-1 %s.\n" % (
            emb, len(sel), np.mean([r["auc"] for r in sel]), np.mean([r["hits"] for r in sel]),
            ", ".join("%d in %d" % (k, c) for k, c in sorted(collections.Counter(r["hits"] for r in sel).items(), reverse=True))))
    # Paired: the same five other choices, GRAY against RGB.
    by = {}
    for r in rows:
        by.setdefault(r["variant"][:5], {})[r["variant"][5]] = r
    pairs = [v for v in by.values() if "GRAY" in v and "RGB" in v]
    w("- GRAY against RGB with the other five choices equal (%d pairs): higher AUC in %d, rank-1 better in %d "
      "and worse in %d.\n\n" % (len(pairs), sum(v["GRAY"]["auc"] > v["RGB"]["auc"] for v in pairs),
                                 sum(v["GRAY"]["hits"] > v["RGB"]["hits"] for v in pairs),
                                 sum(v["GRAY"]["hits"] < v["RGB"]["hits"] for v in pairs)))
    if args.vizor:
        with open(args.vizor) as f:
            data = json.load(f)
        t = {}
        for item in data:
            name = os.path.basename(item["file"])
            if item.get("faces"):
                face = max(item["faces"], key=lambda x: x["box"]["w"] * x["box"]["h"])
                t[name] = np.array(face["template"], np.float64)
        r = score(files, t)
        w("Vizor's engine on the same photos: AUC %.4f, rank-1 %d/%d, misses %s.\n\n"
          % (r["auc"], r["hits"], r["probes"], ", ".join("`%s`" % m for m in r["misses"]) or "none"))
    w("| det RGB | square box | int box | 6-point eyes | outer mouth | recogniser input | AUC | genuine min / median | impostor median / max | rank-1 | missed |\n")
    w("|---|---|---|---|---|---|---|---|---|---|---|\n")
    yes = lambda v: v if isinstance(v, str) else ("yes" if v else "no")
    for r in rows:
        w("| %s | %.4f | %.3f / %.3f | %.3f / %.3f | %d/%d | %s |\n" % (
            " | ".join(yes(v) for v in r["variant"]), r["auc"], r["gmin"], r["gmed"], r["imed"], r["imax"],
            r["hits"], r["probes"], ", ".join(m.replace(".jpg", "") for m in r["misses"]) or "none"))


if __name__ == "__main__":
    main()
