// ArcFace-style recognizer: aligned crops of every face of the call go
// through one forward pass; outputs are L2-normalised. Input size, channel
// order and mean/std come from the manifest.
#include <cmath>

#include <opencv2/core.hpp>

#include "stages.h"

namespace vz {

void embed(NetSet& ns, const ModelSpec& spec, std::vector<FaceWork*>& faces, int expected_dim) {
  const int N = int(faces.size());
  if (N == 0) return;
  cv::Mat& blob = ns.blob[R_RECOGNIZE];
  // With spec.flip each face also goes in mirrored (rows N..2N-1): the two
  // embeddings are summed before normalisation (flip test-time augmentation).
  const int B = spec.flip ? 2 * N : N;
  int shape[4] = {B, spec.channels, spec.height, spec.width};
  blob.create(4, shape, CV_32F);
  const size_t per = size_t(spec.channels) * spec.height * spec.width;
  cv::Mat mirrored;
  for (int i = 0; i < N; i++) {
    fill_blob(faces[i]->aligned, spec, blob.ptr<float>() + per * i);
    if (spec.flip) {
      cv::flip(faces[i]->aligned, mirrored, 1);
      fill_blob(mirrored, spec, blob.ptr<float>() + per * (N + i));
    }
  }
  cv::Mat out = run_net(ns, R_RECOGNIZE, blob)[0];
  const int dim = out.cols;
  if (expected_dim > 0 && dim != expected_dim)
    fail(VZ_ERR_MODEL, "recognizer: output has " + std::to_string(dim) + " values, manifest says " +
                           std::to_string(expected_dim));
  for (int i = 0; i < N; i++) {
    std::vector<float>& t = faces[i]->tmpl;
    t.assign(out.ptr<float>(i), out.ptr<float>(i) + dim);
    if (spec.flip) {
      const float* m = out.ptr<float>(N + i);
      for (int k = 0; k < dim; k++) t[size_t(k)] += m[k];
    }
    double ss = 0;
    for (float v : t) ss += double(v) * v;
    const float inv = ss > 0 ? float(1.0 / std::sqrt(ss)) : 0.f;
    for (float& v : t) v *= inv;
  }
}

}  // namespace vz
