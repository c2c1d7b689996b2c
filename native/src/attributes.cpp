// Attributes on request: age and gender (SSR-Net style three-stage heads),
// head pose (hopenet-style 66-bin heads), expression (7 classes) and eye
// state (fr_eye, 24x24 grey eye crops). Crops follow the JS SDK.
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "stages.h"

namespace vz {
namespace {

void softmax(const float* in, int n, float* out) {
  float mx = in[0];
  for (int i = 1; i < n; i++) mx = std::max(mx, in[i]);
  double s = 0;
  for (int i = 0; i < n; i++) s += std::exp(double(in[i] - mx));
  for (int i = 0; i < n; i++) out[i] = float(std::exp(double(in[i] - mx)) / s);
}

const std::vector<std::string> kSsrOutputsList = {"prob_stage_1",   "prob_stage_2",   "prob_stage_3",
                                              "stage1_delta_k", "stage2_delta_k", "stage3_delta_k",
                                              "index_offset_stage1", "index_offset_stage2",
                                              "index_offset_stage3"};

// SSR-Net soft stagewise regression (fr_age.js mergeAge), V the range.
float ssr_merge(const std::vector<cv::Mat>& o, int i, float V) {
  const float* p1 = o[0].ptr<float>(i); const float* p2 = o[1].ptr<float>(i); const float* p3 = o[2].ptr<float>(i);
  const float d1 = o[3].ptr<float>(i)[0], d2 = o[4].ptr<float>(i)[0], d3 = o[5].ptr<float>(i)[0];
  const float* e1 = o[6].ptr<float>(i); const float* e2 = o[7].ptr<float>(i); const float* e3 = o[8].ptr<float>(i);
  const int s1 = 3, s2 = 3, s3 = 3;
  double a = 0, b = 0, c = 0;
  for (int k = 0; k < s1; k++) a += (k + e1[k]) * p1[k];
  a = a / (s1 * (1 + d1));
  for (int k = 0; k < s2; k++) b += (k + e2[k]) * p2[k];
  b = b / (s1 * (1 + d1)) / (s2 * (1 + d2));
  for (int k = 0; k < s3; k++) c += (k + e3[k]) * p3[k];
  c = c / (s1 * (1 + d1)) / (s2 * (1 + d2)) / (s3 * (1 + d3));
  return float((a + b + c) * V);
}

template <class CropFn>
cv::Mat make_blob(NetSet& ns, int role, const ModelSpec& spec, int N, CropFn crop_of) {
  cv::Mat& blob = ns.blob[role];
  int shape[4] = {N, spec.channels, spec.height, spec.width};
  blob.create(4, shape, CV_32F);
  const size_t per = size_t(spec.channels) * spec.height * spec.width;
  cv::Mat crop;
  for (int i = 0; i < N; i++) {
    crop_of(i, crop);
    fill_blob(crop, spec, blob.ptr<float>() + per * i);
  }
  return blob;
}

}  // namespace

const std::vector<std::string>& ssr_outputs() { return kSsrOutputsList; }

void eyes_open(NetSet& ns, const ModelSpec& spec, const std::vector<const View*>& views,
               std::vector<FaceWork*>& faces) {
  const int N = int(faces.size());
  if (N == 0) return;
  // Two crops per face: image-left eye (points 36-41) then image-right (42-47).
  cv::Mat blob = make_blob(ns, R_EYE, spec, 2 * N, [&](int j, cv::Mat& crop) {
    const FaceWork& f = *faces[j / 2];
    const int base = (j % 2) ? 42 : 36;
    cv::Point2f c = (f.lm68[base + 1] + f.lm68[base + 2] + f.lm68[base + 4] + f.lm68[base + 5]) * 0.25f;
    float size = std::max(2.f, float(cv::norm(f.lm68[base + 3] - f.lm68[base])) * 1.6f);
    crop_resize(*views[j / 2], cv::Rect2f(c.x - size / 2, c.y - size / 2, size, size), cv::Size(spec.width, spec.height), crop);
  });
  cv::Mat out = run_net(ns, R_EYE, blob)[0];
  const int open_class = spec.positive_class >= 0 ? spec.positive_class : 1;  // manifest "open_class"
  for (int i = 0; i < N; i++) {
    float p[8];
    int C = std::min(out.cols, 8);
    softmax(out.ptr<float>(2 * i), C, p);
    faces[i]->attr.left_eye_open = p[std::min(open_class, C - 1)];
    softmax(out.ptr<float>(2 * i + 1), C, p);
    faces[i]->attr.right_eye_open = p[std::min(open_class, C - 1)];
  }
}

void attributes(NetSet& ns, const Manifest& m, uint32_t attrs, const std::vector<const View*>& views,
                std::vector<FaceWork*>& faces, const std::vector<cv::Size>& src_sizes) {
  const int N = int(faces.size());
  if (N == 0) return;
  auto box_crop = [&](const ModelSpec& spec, float scale) {
    return [&, scale](int i, cv::Mat& crop) {
      cv::Rect2f r = shifted_crop(faces[i]->box, scale, src_sizes[i].width, src_sizes[i].height);
      crop_resize(*views[i], r, cv::Size(spec.width, spec.height), crop);
    };
  };
  if ((attrs & VZ_ATTR_AGE) && ns.has[R_AGE]) {
    const ModelSpec& spec = *m.find("age");
    cv::Mat blob = make_blob(ns, R_AGE, spec, N, box_crop(spec, spec.crop_scale > 0 ? spec.crop_scale : 1.4f));
    auto o = run_net(ns, R_AGE, blob, ssr_outputs());
    for (int i = 0; i < N; i++) faces[i]->attr.age = ssr_merge(o, i, 101.f);
  }
  if ((attrs & VZ_ATTR_GENDER) && ns.has[R_GENDER]) {
    const ModelSpec& spec = *m.find("gender");
    cv::Mat blob = make_blob(ns, R_GENDER, spec, N, box_crop(spec, spec.crop_scale > 0 ? spec.crop_scale : 1.4f));
    auto o = run_net(ns, R_GENDER, blob, ssr_outputs());
    for (int i = 0; i < N; i++) {
      float g = std::min(1.f, std::max(0.f, ssr_merge(o, i, 1.f)));  // P(male)
      faces[i]->attr.gender = g >= 0.5f ? 1 : 0;
      faces[i]->attr.gender_score = g >= 0.5f ? g : 1.f - g;
    }
  }
  if ((attrs & VZ_ATTR_POSE) && ns.has[R_POSE]) {
    const ModelSpec& spec = *m.find("pose");
    // fr_pose.js: the box grown by a quarter on each side, clamped.
    cv::Mat blob = make_blob(ns, R_POSE, spec, N, [&](int i, cv::Mat& crop) {
      const cv::Rect2f& b = faces[i]->box;
      cv::Rect2f r(b.x - b.width / 4, b.y - b.height / 4, b.width * 1.5f, b.height * 1.5f);
      r &= cv::Rect2f(0, 0, float(src_sizes[i].width), float(src_sizes[i].height));
      crop_resize(*views[i], r, cv::Size(spec.width, spec.height), crop);
    });
    auto o = run_net(ns, R_POSE, blob, spec.outputs.empty() ? std::vector<std::string>{} : spec.outputs);
    if (o.size() < 3) fail(VZ_ERR_MODEL, "pose: expected three outputs (yaw, pitch, roll)");
    for (int i = 0; i < N; i++) {
      float ang[3];
      for (int k = 0; k < 3; k++) {
        int C = o[k].cols;
        std::vector<float> p(static_cast<size_t>(C));
        softmax(o[k].ptr<float>(i), C, p.data());
        double e = 0;
        for (int j = 0; j < C; j++) e += p[size_t(j)] * j;
        ang[k] = float(e * 3 - 99);
      }
      faces[i]->attr.yaw = ang[0];
      faces[i]->attr.pitch = ang[1];
      faces[i]->attr.roll = ang[2];
    }
  }
  if ((attrs & VZ_ATTR_EXPRESSION) && ns.has[R_EXPRESSION]) {
    const ModelSpec& spec = *m.find("expression");
    // fr_expression.js: (x, y, 1.2w, 1.2h) from the box's top-left corner.
    cv::Mat blob = make_blob(ns, R_EXPRESSION, spec, N, [&](int i, cv::Mat& crop) {
      const cv::Rect2f& b = faces[i]->box;
      cv::Rect2f r(b.x, b.y, b.width * 1.2f, b.height * 1.2f);
      r &= cv::Rect2f(0, 0, float(src_sizes[i].width), float(src_sizes[i].height));
      crop_resize(*views[i], r, cv::Size(spec.width, spec.height), crop);
    });
    cv::Mat out = run_net(ns, R_EXPRESSION, blob)[0];
    for (int i = 0; i < N; i++) {
      float p[VZ_EXPRESSIONS] = {};
      int C = std::min(out.cols, VZ_EXPRESSIONS);
      softmax(out.ptr<float>(i), C, p);
      int best = 0;
      for (int k = 0; k < C; k++) {
        faces[i]->attr.expression_scores[k] = p[k];
        if (p[k] > p[best]) best = k;
      }
      faces[i]->attr.expression = best;
    }
  }
}

}  // namespace vz
