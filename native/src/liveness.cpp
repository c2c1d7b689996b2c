// Anti-spoofing (fr_liveness, MiniFASNet-style, 3 classes). The crop is the
// square face box scaled 2.7x about its centre, shifted to stay inside the
// image and clamped to it (fr_liveness.js alignLivenessImage), resized to
// 128x128, raw 0-255 pixels. P(live) is the softmax of the manifest's
// positive_class.
//
// Faces the model cannot judge get no score at all (a made-up P(live) would
// turn real people away): a greyscale crop has none of the colour cues the
// model was trained on, and a face under kPadMinFacePx is upsampled past any
// texture it could read.
#include <algorithm>
#include <cmath>

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

void liveness(NetSet& ns, const ModelSpec& spec, const std::vector<const View*>& views,
              std::vector<FaceWork*>& faces, const std::vector<cv::Size>& src_sizes) {
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
    cv::Rect2f r = shifted_crop(f.box, scale, src_sizes[i].width, src_sizes[i].height);
    cv::Mat crop;
    crop_resize(*views[i], r, cv::Size(spec.width, spec.height), crop);
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
