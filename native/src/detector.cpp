// UltraFace RFB-320 (fixed 1x3x240x320 input, priors baked in: outputs
// `scores` [N,4420,2] and `boxes` [N,4420,4] as normalised corners).
// Large or non-4:3 images are handled with a pyramid of tiled levels:
// the finest level puts the smallest wanted face at kDetMinNetFace input
// pixels, coarser levels step down by 3x until the whole image fits one
// letterboxed input. Tiles overlap; detections touching an inner tile edge
// are dropped (the face is whole in the neighbour or found a level up), and
// NMS merges across tiles and levels. All tiles of a call go through one
// batched forward pass.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <opencv2/imgproc.hpp>

#include "stages.h"

namespace vz {
namespace {

struct Tile {
  double s;         // net px per source px
  cv::Rect2d src;   // covered source rect (x,y in source px)
  bool inner_l, inner_t, inner_r, inner_b;  // edges shared with another tile
};

float iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  float inter = (a & b).area();
  float u = a.area() + b.area() - inter;
  return u > 0 ? inter / u : 0.f;
}

}  // namespace

double detect_scale_needed(const ModelSpec& spec, int W, int H, float min_face) {
  double s_global = std::min(double(spec.width) / W, double(spec.height) / H);
  double s_fine = kDetMinNetFace / std::max(1.f, min_face);
  return std::max(s_global, s_fine);
}

static const int ov = 64;  // tile overlap, net pixels
// Whole-image fallback scales (of the fit-to-input scale) when no face is
// found: the image at 70% and 50% of the input, centred in a margin.
static const double kDetPadScales[] = {0.7, 0.5};

namespace {

// The pyramid for a W x H source whose decoded view has `view_scale`
// (decoded px per source px): levels (finest first) and their tiles.
void plan_tiles(const ModelSpec& spec, int W, int H, float min_face, double view_scale, std::vector<double>& levels,
                std::vector<Tile>& tiles) {
  const int NW = spec.width, NH = spec.height;
  const double s_global = std::min(double(NW) / W, double(NH) / H);
  double s_fine = kDetMinNetFace / std::max(1.f, min_face);
  // No point in going finer than the decoded pixels (or 1:1 with the source).
  s_fine = std::min(s_fine, std::max(view_scale, s_global));
  levels.clear();
  tiles.clear();
  if (s_fine <= s_global * 1.05) {
    levels.push_back(s_global);
  } else {
    // Steps of 3x; a step that would land within 1.5x of the global scale
    // goes straight to the global scale instead.
    for (double s = s_fine; s > s_global * 1.5; s /= 3.0) levels.push_back(s);
    levels.push_back(s_global);
  }
  // A level that overflows a whole number of tiles by under 10% is shrunk a
  // little to fit (e.g. 420 px of height: 2 tiles instead of 3).
  for (size_t li = 0; li + 1 < levels.size(); li++) {
    double shrink = 1.0;
    const double dims[2][2] = {{W * levels[li], double(NW)}, {H * levels[li], double(NH)}};
    for (auto& d : dims) {
      const double n = (d[0] - ov) / (d[1] - ov);
      if (n > 1.0 && n - std::floor(n) < 0.1) shrink = std::min(shrink, (std::floor(n) * (d[1] - ov) + ov) / d[0]);
    }
    levels[li] = std::max(levels[li] * shrink, levels[li + 1]);
  }
  for (size_t li = 0; li < levels.size(); li++) {
    double s = levels[li];
    double lw = W * s, lh = H * s;  // level size in net px
    int nx = lw <= NW ? 1 : int(std::ceil((lw - ov) / double(NW - ov)));
    int ny = lh <= NH ? 1 : int(std::ceil((lh - ov) / double(NH - ov)));
    // Counting is enough past the budget: the caller refuses the plan.
    if (int64_t(nx) * ny + int64_t(tiles.size()) > int64_t(kMaxDetTiles)) {
      tiles.resize(size_t(kMaxDetTiles) + 1);
      return;
    }
    double stepx = nx > 1 ? (lw - NW) / (nx - 1) : 0, stepy = ny > 1 ? (lh - NH) / (ny - 1) : 0;
    for (int ty = 0; ty < ny; ty++)
      for (int tx = 0; tx < nx; tx++) {
        Tile t;
        t.s = s;
        double x0 = tx * stepx, y0 = ty * stepy;
        t.src = cv::Rect2d(x0 / s, y0 / s, NW / s, NH / s);
        t.inner_l = tx > 0;
        t.inner_r = tx < nx - 1;
        t.inner_t = ty > 0;
        t.inner_b = ty < ny - 1;
        tiles.push_back(t);
      }
  }
}

}  // namespace

int detect_tiles_needed(const ModelSpec& spec, int W, int H, float min_face) {
  std::vector<double> levels;
  std::vector<Tile> tiles;
  plan_tiles(spec, W, H, min_face, 1.0, levels, tiles);
  return int(tiles.size());
}

std::vector<Detection> detect_faces(NetSet& ns, const ModelSpec& spec, const View& v, int W, int H,
                                    const DetectParams& p, DetectStats* stats) {
  const int NW = spec.width, NH = spec.height;
  std::vector<double> levels;
  std::vector<Tile> tiles;
  plan_tiles(spec, W, H, p.min_face, v.scale, levels, tiles);
  if (tiles.size() > size_t(kMaxDetTiles))
    fail(VZ_ERR_TOO_LARGE, "face search in " + std::to_string(W) + "x" + std::to_string(H) + " for faces of " +
                               std::to_string(int(p.min_face)) + " px needs over " + std::to_string(kMaxDetTiles) +
                               " detector tiles (the per-image budget)");
  if (stats) {
    stats->levels = int(levels.size());
    stats->tiles = int(tiles.size());
  }
  // Tiles go through the net in chunks of kDetChunk: the input blob (0.9 MB
  // a tile) stays bounded whatever the tile count, and a cancelled call
  // stops between chunks. Each tile is the source rect mapped onto NWxNH;
  // pixels past the image edge are the mean (zero after normalisation).
  cv::Mat& blob = ns.blob[R_DETECT];
  cv::Mat tile_img(NH, NW, CV_8UC3);
  const cv::Scalar fill(spec.mean[2], spec.mean[1], spec.mean[0]);
  // Cache one resized image per level.
  double cur_s = -1;
  cv::Mat level_img;
  const float edge = 2.f;  // net px
  static const bool debug = std::getenv("VIZOR_DEBUG_DET") != nullptr;
  // Runs the tiles of `levels` and returns the candidates per level (level 0
  // is the finest).
  auto run_tiles = [&](const std::vector<double>& levels, const std::vector<Tile>& tiles) {
    const int N = int(tiles.size());
    std::vector<std::vector<Detection>> per_level(levels.size());
    cur_s = -1;
    for (int c0 = 0; c0 < N; c0 += kDetChunk) {
      check_cancel(p.cancel);
      const int n = std::min(kDetChunk, N - c0);
      int shape[4] = {n, 3, NH, NW};
      blob.create(4, shape, CV_32F);
      for (int j = 0; j < n; j++) {
        const Tile& t = tiles[size_t(c0 + j)];
        if (t.s != cur_s) {
          cur_s = t.s;
          double f = t.s / v.scale;  // image px -> net px
          int lw = std::max(1, int(std::lround(v.img.cols * f))), lh = std::max(1, int(std::lround(v.img.rows * f)));
          if (lw == v.img.cols && lh == v.img.rows) level_img = v.img;
          else cv::resize(v.img, level_img, cv::Size(lw, lh), 0, 0, f < 0.5 ? cv::INTER_AREA : cv::INTER_LINEAR);
        }
        // Tile origin in level pixels.
        double lx = (t.src.x - v.origin.x) * t.s, ly = (t.src.y - v.origin.y) * t.s;
        int ix = int(std::lround(lx)), iy = int(std::lround(ly));
        tile_img.setTo(fill);
        cv::Rect want(ix, iy, NW, NH);
        cv::Rect have = want & cv::Rect(0, 0, level_img.cols, level_img.rows);
        if (!have.empty()) level_img(have).copyTo(tile_img(cv::Rect(have.x - ix, have.y - iy, have.width, have.height)));
        fill_blob(tile_img, spec, blob.ptr<float>(j));
      }
      std::vector<cv::Mat> outs = run_net(ns, R_DETECT, blob);
      const cv::Mat* scores = nullptr;
      const cv::Mat* boxes = nullptr;
      for (size_t k = 0; k < outs.size(); k++) {
        const std::string& nm = ns.out_names[R_DETECT][k];
        if (nm == "scores") scores = &outs[k];
        else if (nm == "boxes") boxes = &outs[k];
      }
      if (!scores || !boxes) {
        if (outs.size() != 2) fail(VZ_ERR_MODEL, "detector: expected outputs `scores` and `boxes`");
        scores = &outs[0];
        boxes = &outs[1];
      }
      const int A = scores->cols / 2;
      if (int(boxes->total()) != n * A * 4) fail(VZ_ERR_MODEL, "detector: output shapes disagree");
      for (int j = 0; j < n; j++) {
        const int i = c0 + j;
        const Tile& t = tiles[size_t(i)];
        const size_t li = size_t(std::find(levels.begin(), levels.end(), t.s) - levels.begin());
        const bool coarsest = li + 1 == levels.size();
        const float* sc = scores->ptr<float>(j);
        const float* bx = boxes->ptr<float>(j);
        for (int a = 0; a < A; a++) {
          float conf = sc[2 * a + 1];
          if (conf < p.threshold) continue;
          float x1 = bx[4 * a] * NW, y1 = bx[4 * a + 1] * NH, x2 = bx[4 * a + 2] * NW, y2 = bx[4 * a + 3] * NH;
          if (x2 <= x1 || y2 <= y1) continue;
          if ((t.inner_l && x1 < edge) || (t.inner_t && y1 < edge) || (t.inner_r && x2 > NW - edge) ||
              (t.inner_b && y2 > NH - edge))
            continue;
          // Size bands: a level answers for faces up to the tile overlap (the
          // next level up takes bigger ones) and down to what the next finer
          // level no longer answers for, with a 20% margin each way.
          const float side = std::max(x2 - x1, y2 - y1);
          if (!coarsest && side > ov * 1.2f) continue;
          if (li > 0 && side * float(levels[li - 1] / t.s) < ov / 1.2f) continue;
          Detection d;
          d.box = cv::Rect2f(float(t.src.x + x1 / t.s), float(t.src.y + y1 / t.s), float((x2 - x1) / t.s),
                             float((y2 - y1) / t.s));
          d.score = conf;
          if (debug)
            std::fprintf(stderr, "det level %zu s=%.3f tile %d box %.0f,%.0f %.0fx%.0f net %.0fx%.0f score %.3f\n", li,
                         t.s, i, d.box.x, d.box.y, d.box.width, d.box.height, x2 - x1, y2 - y1, conf);
          per_level[li].push_back(d);
        }
      }
    }
    if (N > kDetChunk) blob.release();  // do not keep a chunk-sized blob in the pool
    return per_level;
  };
  std::vector<std::vector<Detection>> per_level = run_tiles(levels, tiles);
  bool any = false;
  for (auto& l : per_level) any = any || !l.empty();
  if (!any) {
    // Nothing found: the face may fill the frame (a tight crop, an ID
    // thumbnail) and be larger than the detector's largest anchors at the
    // whole-image level. Look once more at the whole image shrunk inside a
    // margin of the mean colour (docs/accuracy/pad.md: failure-to-acquire on
    // the bona fide set 3.3% -> 0.5%, tight 350x350 crops 7.6% -> 0%). Only
    // images without any face pay for these tiles.
    const double s_global = std::min(double(NW) / W, double(NH) / H);
    std::vector<double> pl;
    std::vector<Tile> pt;
    for (double k : kDetPadScales) {
      Tile t;
      t.s = s_global * k;
      t.src = cv::Rect2d(W / 2.0 - NW / (2 * t.s), H / 2.0 - NH / (2 * t.s), NW / t.s, NH / t.s);
      t.inner_l = t.inner_t = t.inner_r = t.inner_b = false;
      pl.push_back(t.s);
      pt.push_back(t);
    }
    // Each padded tile is its own coarsest level (no size band).
    for (size_t k = 0; k < pt.size(); k++) {
      auto got = run_tiles({pl[k]}, {pt[k]});
      per_level.push_back(std::move(got[0]));
    }
    if (stats) stats->tiles += int(pt.size());
  }
  // NMS over all levels by score: IoU, or a box mostly inside a stronger one.
  std::vector<Detection> cand;
  for (auto& v : per_level) cand.insert(cand.end(), v.begin(), v.end());
  const auto by_score = [](const Detection& a, const Detection& b) { return a.score > b.score; };
  // NMS is quadratic in the boxes kept: a low threshold on a crowd (or on
  // noise) must not make it seconds. The strongest kMaxDetCandidates enter,
  // and it stops at kMaxDetKeep boxes (far above any engine face cap).
  if (cand.size() > size_t(kMaxDetCandidates)) {
    std::nth_element(cand.begin(), cand.begin() + kMaxDetCandidates, cand.end(), by_score);
    cand.resize(size_t(kMaxDetCandidates));
  }
  std::sort(cand.begin(), cand.end(), by_score);
  std::vector<Detection> keep;
  for (auto& c : cand) {
    if (keep.size() >= size_t(kMaxDetKeep)) break;
    if (c.box.height < p.min_face * 0.6f) continue;  // far below what was asked for
    bool dup = false;
    for (auto& k : keep) {
      const float inter = (c.box & k.box).area();
      if (iou(c.box, k.box) > p.nms_iou || inter > 0.6f * std::min(c.box.area(), k.box.area())) {
        dup = true;
        break;
      }
    }
    if (!dup) keep.push_back(c);
  }
  // Clip to the image, drop what is left empty.
  std::vector<Detection> out;
  const cv::Rect2f img(0, 0, float(W), float(H));
  for (auto& k : keep) {
    cv::Rect2f b = k.box & img;
    if (b.width < 2 || b.height < 2) continue;
    out.push_back(k);  // keeps the unclipped box: the square crop needs its height
  }
  std::sort(out.begin(), out.end(), [](const Detection& a, const Detection& b) { return a.box.area() > b.box.area(); });
  if (p.max_faces > 0 && int(out.size()) > p.max_faces) out.resize(size_t(p.max_faces));
  return out;
}

}  // namespace vz
