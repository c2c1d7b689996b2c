// Anti-spoofing (fr_liveness, MiniFASNet-style, 3 classes). The crop is the
// square face box scaled 2.7x about its centre, shifted to stay inside the
// image and clamped to it (fr_liveness.js alignLivenessImage), resized to
// 128x128, raw 0-255 pixels. P(live) is the softmax of the manifest's
// positive_class.
#include <cmath>

#include "stages.h"

namespace vz {

void liveness(NetSet& ns, const ModelSpec& spec, const std::vector<const View*>& views,
              std::vector<FaceWork*>& faces, const std::vector<cv::Size>& src_sizes) {
  const int N = int(faces.size());
  if (N == 0) return;
  cv::Mat& blob = ns.blob[R_LIVENESS];
  int shape[4] = {N, spec.channels, spec.height, spec.width};
  blob.create(4, shape, CV_32F);
  const size_t per = size_t(spec.channels) * spec.height * spec.width;
  const float scale = spec.crop_scale > 0 ? spec.crop_scale : 2.7f;
  cv::Mat crop;
  for (int i = 0; i < N; i++) {
    cv::Rect2f r = shifted_crop(faces[i]->box, scale, src_sizes[i].width, src_sizes[i].height);
    crop_resize(*views[i], r, cv::Size(spec.width, spec.height), crop);
    fill_blob(crop, spec, blob.ptr<float>() + per * i);
  }
  cv::Mat out = run_net(ns, R_LIVENESS, blob)[0];
  const int C = out.cols;
  const int live = spec.positive_class >= 0 && spec.positive_class < C ? spec.positive_class : 0;
  for (int i = 0; i < N; i++) {
    const float* o = out.ptr<float>(i);
    float mx = o[0];
    for (int k = 1; k < C; k++) mx = std::max(mx, o[k]);
    double sum = 0;
    for (int k = 0; k < C; k++) sum += std::exp(double(o[k] - mx));
    faces[i]->liveness = float(std::exp(double(o[live] - mx)) / sum);
  }
}

}  // namespace vz
