// ArcFace-style recognizer: aligned crops of every face of the call go
// through one forward pass; outputs are L2-normalised. Input size, channel
// order and mean/std come from the manifest.
#include <cmath>

#include "stages.h"

namespace vz {

void embed(NetSet& ns, const ModelSpec& spec, std::vector<FaceWork*>& faces, int expected_dim) {
  const int N = int(faces.size());
  if (N == 0) return;
  cv::Mat& blob = ns.blob[R_RECOGNIZE];
  int shape[4] = {N, spec.channels, spec.height, spec.width};
  blob.create(4, shape, CV_32F);
  const size_t per = size_t(spec.channels) * spec.height * spec.width;
  for (int i = 0; i < N; i++) fill_blob(faces[i]->aligned, spec, blob.ptr<float>() + per * i);
  cv::Mat out = run_net(ns, R_RECOGNIZE, blob)[0];
  const int dim = out.cols;
  if (expected_dim > 0 && dim != expected_dim)
    fail(VZ_ERR_MODEL, "recognizer: output has " + std::to_string(dim) + " values, manifest says " +
                           std::to_string(expected_dim));
  for (int i = 0; i < N; i++) {
    const float* o = out.ptr<float>(i);
    double ss = 0;
    for (int k = 0; k < dim; k++) ss += double(o[k]) * o[k];
    float inv = ss > 0 ? float(1.0 / std::sqrt(ss)) : 0.f;
    faces[i]->tmpl.resize(size_t(dim));
    for (int k = 0; k < dim; k++) faces[i]->tmpl[size_t(k)] = o[k] * inv;
  }
}

}  // namespace vz
