// Quality score in [0,1] from six parts (see native/README.md):
// size, detection confidence, pose (from the 68 landmarks' geometry),
// sharpness (variance of the Laplacian of the aligned crop), exposure and
// eyes open. The score is a weighted geometric mean, so any one bad part
// (a profile, a closed eye, a blur) pulls the whole score down.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <opencv2/imgproc.hpp>

#include "stages.h"

namespace vz {
namespace {
inline float clamp01(double v) { return float(std::min(1.0, std::max(0.0, v))); }
constexpr double kPi = 3.14159265358979323846;
}  // namespace

void landmark_pose(FaceWork& f) {
  const cv::Point2f* p = f.lm68;
  cv::Point2f eyeL = f.lm5[0], eyeR = f.lm5[1];
  cv::Point2f ax = eyeR - eyeL;
  float n = std::max(1e-3f, float(cv::norm(ax)));
  cv::Point2f u = ax * (1.f / n), v(-u.y, u.x);
  const cv::Point2f nose = p[30];
  // Yaw: where the nose tip sits between the two sides of the jaw.
  float dl = (nose - p[2]).dot(u), dr = (p[14] - nose).dot(u);
  float r = (dr - dl) / std::max(1e-3f, std::fabs(dr) + std::fabs(dl));
  // 0.75: fitted against fr_pose's yaw on the test photos (the jaw points
  // overstate the turn).
  f.pose_proxy_yaw = float(0.75 * std::asin(std::max(-1.f, std::min(1.f, r))) * 180 / kPi);
  // Pitch: nose tip height between the eye line and the mouth line, against
  // a frontal ratio of 0.53 (median over the test photos); a rough proxy.
  cv::Point2f eyes = (eyeL + eyeR) * 0.5f, mouth = (f.lm5[3] + f.lm5[4]) * 0.5f;
  float a = (nose - eyes).dot(v), b = (mouth - nose).dot(v);
  float ratio = a / std::max(1e-3f, std::fabs(a) + std::fabs(b));
  f.pose_proxy_pitch = float((ratio - 0.53f) * 90.0);
  f.pose_proxy_roll = float(std::atan2(ax.y, ax.x) * 180 / kPi);
}

void quality(FaceWork& f, float) {
  vz_quality q;
  const float h = f.box.height;
  q.size = clamp01((h - 40.0) / (112.0 - 40.0));
  q.confidence = clamp01((f.score - 0.5) / (0.95 - 0.5));
  const double yaw = std::fabs(f.pose_proxy_yaw), pitch = std::fabs(f.pose_proxy_pitch), roll = std::fabs(f.pose_proxy_roll);
  q.pose = clamp01(1.0 - yaw / 60.0) * clamp01(1.0 - std::max(0.0, pitch - 10.0) / 40.0) *
           clamp01(1.0 - std::max(0.0, roll - 30.0) / 60.0);
  q.sharpness = 1.f;
  q.exposure = 1.f;
  if (!f.aligned.empty()) {
    cv::Mat gray, lap;
    cv::cvtColor(f.aligned, gray, cv::COLOR_BGR2GRAY);
    // Central face region (skip the black border a warp may leave).
    const int W = gray.cols, H = gray.rows;
    cv::Rect c(W / 5, H / 5, W * 3 / 5, H * 3 / 5);
    cv::Laplacian(gray(c), lap, CV_32F);
    cv::Scalar mu, sd;
    cv::meanStdDev(lap, mu, sd);
    const double var = sd[0] * sd[0];
    q.sharpness = float(var / (var + 60.0));
    cv::meanStdDev(gray(c), mu, sd);
    const double mean = mu[0];
    int clipped = 0;
    cv::Mat roi = gray(c);
    for (int y = 0; y < roi.rows; y++) {
      const uint8_t* r = roi.ptr<uint8_t>(y);
      for (int x = 0; x < roi.cols; x++) clipped += (r[x] < 8 || r[x] > 247);
    }
    const double frac = double(clipped) / double(roi.total());
    q.exposure = clamp01(1.0 - std::max(0.0, std::fabs(mean - 125.0) - 60.0) / 60.0) * clamp01(1.0 - frac * 2.0) *
                 clamp01(sd[0] / 15.0 + 0.25);
  }
  q.eyes_open = 1.f;
  if (f.attr.left_eye_open >= 0 && f.attr.right_eye_open >= 0)
    q.eyes_open = clamp01(std::max(f.attr.left_eye_open, f.attr.right_eye_open) * 1.25);
  const double w[6] = {0.15, 0.10, 0.35, 0.15, 0.10, 0.15};
  const double part[6] = {q.size, q.confidence, q.pose, q.sharpness, q.exposure, q.eyes_open};
  double lg = 0;
  for (int i = 0; i < 6; i++) lg += w[i] * std::log(std::max(0.02, part[i]));
  q.score = clamp01(std::exp(lg));
  f.quality = q;
  if (std::getenv("VIZOR_DEBUG_Q"))
    std::fprintf(stderr, "quality: yaw %.1f pitch %.1f roll %.1f lapvar-part %.2f\n", f.pose_proxy_yaw,
                 f.pose_proxy_pitch, f.pose_proxy_roll, q.sharpness);
}

}  // namespace vz
