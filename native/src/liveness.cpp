// Anti-spoofing (fr_liveness, MiniFASNet-style, 3 classes, RGB order: BGR
// input drops the AUC from 0.81 to 0.63). The crop is the square face box
// scaled 2.7x about its centre, resized to 128x128, raw 0-255 pixels; where
// it leaves the image the border is replicated (pad_crop). P(live) is the
// softmax of the manifest's positive_class.
//
// Faces the model cannot judge get no score at all (a made-up P(live) would
// turn real people away): a greyscale crop has none of the colour cues the
// model was trained on, and a face under kPadMinFacePx is upsampled past any
// texture it could read.
#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "stages.h"

namespace vz {

float mean_chroma(const cv::Mat& bgr) {
  if (bgr.empty() || bgr.type() != CV_8UC3) return 0.f;
  double sum = 0;
  for (int y = 0; y < bgr.rows; y++) {
    const uint8_t* p = bgr.ptr<uint8_t>(y);
    for (int x = 0; x < bgr.cols; x++, p += 3) {
      const int mx = std::max({p[0], p[1], p[2]}), mn = std::min({p[0], p[1], p[2]});
      sum += mx - mn;
    }
  }
  return float(sum / (double(bgr.rows) * bgr.cols));
}

namespace {

// The PAD crop: the square of `scale` x the face box about its centre, at a
// fixed face-to-crop ratio whatever the framing. Where the square leaves the
// image (a tight crop, a face near an edge), the missing context is filled by
// replicating the image's border instead of zooming in on the face: the model
// reads a zoomed face without context as a spoof (docs/accuracy/pad.md). A
// constant fill reads as a screen or paper edge (every face scored a spoof),
// mirroring doubles features (AUC 0.90 against 0.94 replicated, 0.81 zoomed).
void pad_crop(const View& v, const cv::Rect2f& box, float scale, cv::Size size, cv::Mat& out) {
  const int border = cv::BORDER_REPLICATE;
  const float side = std::max(box.width, box.height) * scale;
  const float cx = box.x + box.width / 2, cy = box.y + box.height / 2;
  // The square in view pixels.
  const double x0 = (cx - side / 2 - v.origin.x) * v.scale, y0 = (cy - side / 2 - v.origin.y) * v.scale;
  const double s = side * v.scale;
  const cv::Rect img(0, 0, v.img.cols, v.img.rows);
  const cv::Rect want(int(std::floor(x0)), int(std::floor(y0)), std::max(1, int(std::lround(s))),
                      std::max(1, int(std::lround(s))));
  const cv::Rect in = want & img;
  if (in.empty()) {
    out = cv::Mat(size, CV_8UC3, cv::Scalar(0, 0, 0));
    return;
  }
  // Scale the inside part first (bounds the work for large sources), then
  // grow the missing margins at that scale, then fit to the exact size.
  const double f = double(size.width) / want.width;
  cv::Mat part;
  const cv::Size ps(std::max(1, int(std::lround(in.width * f))), std::max(1, int(std::lround(in.height * f))));
  cv::resize(v.img(in), part, ps, 0, 0, f < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  const int top = int(std::lround((in.y - want.y) * f)), left = int(std::lround((in.x - want.x) * f));
  const int bottom = std::max(0, size.height - top - ps.height), right = std::max(0, size.width - left - ps.width);
  cv::Mat grown = part;
  // Replication needs no minimum size of the part (reflection would).
  if (top || left || bottom || right) cv::copyMakeBorder(part, grown, top, bottom, left, right, border);
  if (grown.size() != size) cv::resize(grown, out, size, 0, 0, cv::INTER_LINEAR);
  else out = grown;
}

}  // namespace

// The source sizes are not needed: the padded crop does not clamp to them.
void liveness(NetSet& ns, const ModelSpec& spec, const std::vector<const View*>& views,
              std::vector<FaceWork*>& faces, const std::vector<cv::Size>& /*src_sizes*/) {
  const float scale = spec.crop_scale > 0 ? spec.crop_scale : 2.7f;
  // Crops first: which faces the net sees at all.
  std::vector<cv::Mat> crops;
  std::vector<FaceWork*> scored;
  for (size_t i = 0; i < faces.size(); i++) {
    FaceWork& f = *faces[i];
    if (std::min(f.box.width, f.box.height) < kPadMinFacePx) {
      f.liveness = kLivenessTooSmall;
      continue;
    }
    cv::Mat crop;
    pad_crop(*views[i], f.box, scale, cv::Size(spec.width, spec.height), crop);
    if (mean_chroma(crop) < kPadGreyChroma) {
      f.liveness = kLivenessGreyscale;
      continue;
    }
    crops.push_back(std::move(crop));
    scored.push_back(&f);
  }
  const int N = int(scored.size());
  if (N == 0) return;
  cv::Mat& blob = ns.blob[R_LIVENESS];
  int shape[4] = {N, spec.channels, spec.height, spec.width};
  blob.create(4, shape, CV_32F);
  const size_t per = size_t(spec.channels) * spec.height * spec.width;
  for (int i = 0; i < N; i++) fill_blob(crops[size_t(i)], spec, blob.ptr<float>() + per * i);
  cv::Mat out = run_net(ns, R_LIVENESS, blob)[0];
  const int C = out.cols;
  const int live = spec.positive_class >= 0 && spec.positive_class < C ? spec.positive_class : 0;
  for (int i = 0; i < N; i++) {
    const float* o = out.ptr<float>(i);
    float mx = o[0];
    for (int k = 1; k < C; k++) mx = std::max(mx, o[k]);
    double sum = 0;
    for (int k = 0; k < C; k++) sum += std::exp(double(o[k] - mx));
    scored[size_t(i)]->liveness = float(std::exp(double(o[live] - mx)) / sum);
  }
}

}  // namespace vz
