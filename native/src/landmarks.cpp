// 68-point landmarks (fr_landmark: 1x1x64x64 grey /256 of the square face
// box, outputs normalised to that crop), the 5-point set and the similarity
// warp onto the ArcFace 112x112 template.
#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "stages.h"

namespace vz {

cv::Rect2f shifted_crop(const cv::Rect2f& box, float scale_value, int W, int H) {
  float bw = std::max(1.f, box.width), bh = std::max(1.f, box.height);
  float scale = std::min({(H - 1) / bh, (W - 1) / bw, scale_value});
  float nw = bw * scale, nh = bh * scale;
  float cx = box.x + bw / 2, cy = box.y + bh / 2;
  float x0 = cx - nw / 2, y0 = cy - nh / 2, x1 = cx + nw / 2, y1 = cy + nh / 2;
  if (x0 < 0) { x1 -= x0; x0 = 0; }
  if (y0 < 0) { y1 -= y0; y0 = 0; }
  if (x1 > W - 1) { x0 -= x1 - W + 1; x1 = float(W - 1); }
  if (y1 > H - 1) { y0 -= y1 - H + 1; y1 = float(H - 1); }
  x0 = std::max(0.f, x0);
  y0 = std::max(0.f, y0);
  return {x0, y0, x1 - x0, y1 - y0};
}

void warp_from_crop(const cv::Mat& src, const cv::Matx23d& M, cv::Size size, cv::Mat& out, const cv::Scalar& fill) {
  // cv::warpAffine keeps source coordinates in 16-bit integers and asserts
  // that both sides of its source are under 32,767 px: a face in a wider
  // image would fail the whole call. The output only reads the source region
  // it maps onto, so warp from that crop (plus the bilinear margin): the same
  // result up to fixed-point rounding, for any source size.
  cv::Matx23d Minv;
  cv::invertAffineTransform(M, Minv);
  double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
  for (double cx : {0.0, double(size.width)})
    for (double cy : {0.0, double(size.height)}) {
      const double X = Minv(0, 0) * cx + Minv(0, 1) * cy + Minv(0, 2);
      const double Y = Minv(1, 0) * cx + Minv(1, 1) * cy + Minv(1, 2);
      x0 = std::min(x0, X); y0 = std::min(y0, Y); x1 = std::max(x1, X); y1 = std::max(y1, Y);
    }
  const double lim = 1e9;  // keeps the int conversions defined for absurd matrices
  if (!(std::isfinite(x0) && std::isfinite(y0) && std::isfinite(x1) && std::isfinite(y1)) || x1 < -lim || y1 < -lim ||
      x0 > lim || y0 > lim) {
    out.create(size, src.type());
    out.setTo(fill);
    return;
  }
  x0 = std::max(x0, -2.0); y0 = std::max(y0, -2.0);
  x1 = std::min(x1, double(src.cols) + 2); y1 = std::min(y1, double(src.rows) + 2);
  cv::Rect r(int(std::floor(x0)) - 2, int(std::floor(y0)) - 2, 0, 0);
  r.width = int(std::ceil(x1)) + 3 - r.x;
  r.height = int(std::ceil(y1)) + 3 - r.y;
  r &= cv::Rect(0, 0, src.cols, src.rows);
  if (r.empty()) {
    out.create(size, src.type());
    out.setTo(fill);
    return;
  }
  cv::Matx23d M2 = M;
  M2(0, 2) += M(0, 0) * r.x + M(0, 1) * r.y;
  M2(1, 2) += M(1, 0) * r.x + M(1, 1) * r.y;
  cv::warpAffine(src(r), out, M2, size, cv::INTER_LINEAR, cv::BORDER_CONSTANT, fill);
}

void crop_resize(const View& v, const cv::Rect2f& r, cv::Size size, cv::Mat& out, const cv::Scalar& fill) {
  // Source rect -> image rect.
  double x0 = (r.x - v.origin.x) * v.scale, y0 = (r.y - v.origin.y) * v.scale;
  double w = std::max(1e-3, double(r.width) * v.scale), h = std::max(1e-3, double(r.height) * v.scale);
  double fx = size.width / w, fy = size.height / h;
  const cv::Rect bounds(0, 0, v.img.cols, v.img.rows);
  cv::Rect ir(int(std::floor(x0)), int(std::floor(y0)), int(std::ceil(x0 + w)) - int(std::floor(x0)),
              int(std::ceil(y0 + h)) - int(std::floor(y0)));
  cv::Rect in = ir & bounds;
  if (in.empty()) {
    out.create(size, v.img.type());
    out.setTo(fill);
    return;
  }
  if (fx < 0.5 || fy < 0.5) {
    // Large shrink: area-average the region first so the bilinear warp
    // below does not alias.
    double k = std::min(1.0, 2.0 * std::max(fx, fy));
    cv::Mat small;
    cv::Size ss(std::max(1, int(std::lround(in.width * k))), std::max(1, int(std::lround(in.height * k))));
    cv::resize(v.img(in), small, ss, 0, 0, cv::INTER_AREA);
    double kx = double(ss.width) / in.width, ky = double(ss.height) / in.height;
    cv::Matx23d M(fx / kx, 0, -(x0 - in.x) * fx, 0, fy / ky, -(y0 - in.y) * fy);
    warp_from_crop(small, M, size, out, fill);
    return;
  }
  cv::Matx23d M(fx, 0, -x0 * fx, 0, fy, -y0 * fy);
  warp_from_crop(v.img, M, size, out, fill);
}

void landmarks68(NetSet& ns, const ModelSpec& spec, const std::vector<const View*>& views,
                 std::vector<FaceWork*>& faces, const std::vector<cv::Size>& src_sizes) {
  const int N = int(faces.size());
  if (N == 0) return;
  const int w = spec.width, h = spec.height;
  cv::Mat& blob = ns.blob[R_LANDMARK];
  int shape[4] = {N, spec.channels, h, w};
  blob.create(4, shape, CV_32F);
  std::vector<cv::Rect2f> crops(static_cast<size_t>(N));
  cv::Mat crop;
  for (int i = 0; i < N; i++) {
    FaceWork& f = *faces[i];
    crops[i] = shifted_crop(f.box, 1.0f, src_sizes[i].width, src_sizes[i].height);
    crop_resize(*views[i], crops[i], cv::Size(w, h), crop);
    fill_blob(crop, spec, blob.ptr<float>(i));
  }
  cv::Mat out = run_net(ns, R_LANDMARK, blob)[0];
  if (out.cols != 136) fail(VZ_ERR_MODEL, "landmarker: expected 136 outputs per face");
  for (int i = 0; i < N; i++) {
    const float* o = out.ptr<float>(i);
    FaceWork& f = *faces[i];
    const cv::Rect2f& c = crops[i];
    for (int k = 0; k < 68; k++) {
      // A non-finite output (a degenerate crop) becomes the crop centre, so
      // nothing downstream converts NaN to an integer.
      float u = std::isfinite(o[2 * k]) ? std::min(2.f, std::max(-1.f, o[2 * k])) : 0.5f;
      float v = std::isfinite(o[2 * k + 1]) ? std::min(2.f, std::max(-1.f, o[2 * k + 1])) : 0.5f;
      f.lm68[k] = cv::Point2f(c.x + u * c.width, c.y + v * c.height);
    }
    f.has_landmarks = true;
    five_points(f);
  }
}

void five_points(FaceWork& f) {
  auto mean = [&](std::initializer_list<int> idx) {
    cv::Point2f s(0, 0);
    for (int i : idx) s += f.lm68[i];
    return s * (1.f / float(idx.size()));
  };
  // Eye centres: mean of the six eye contour points (fr_feature.js uses four
  // lid points; six scored a little better on the test photos: AUC 0.980 vs
  // 0.978). Nose tip 30. Mouth corners as fr_feature.js convert68pts5pts:
  // outer corner averaged with the inner-lip corner (48+60, 54+64).
  f.lm5[0] = mean({36, 37, 38, 39, 40, 41});
  f.lm5[1] = mean({42, 43, 44, 45, 46, 47});
  f.lm5[2] = f.lm68[30];
  f.lm5[3] = mean({48, 60});
  f.lm5[4] = mean({54, 64});
}

namespace {
const float kTemplate112[5][2] = {
    {38.2946f, 51.6963f}, {73.5318f, 51.5014f}, {56.0252f, 71.7366f}, {41.5493f, 92.3655f}, {70.7299f, 92.2041f}};

// Least-squares similarity (rotation, uniform scale, translation) p -> q.
cv::Matx23d similarity(const cv::Point2d* p, const cv::Point2d* q, int n) {
  cv::Point2d pc(0, 0), qc(0, 0);
  for (int i = 0; i < n; i++) { pc += p[i]; qc += q[i]; }
  pc *= 1.0 / n;
  qc *= 1.0 / n;
  double sxx = 0, a = 0, b = 0;
  for (int i = 0; i < n; i++) {
    cv::Point2d u = p[i] - pc, v = q[i] - qc;
    sxx += u.dot(u);
    a += u.x * v.x + u.y * v.y;
    b += u.x * v.y - u.y * v.x;
  }
  if (sxx < 1e-12) sxx = 1e-12;
  a /= sxx;
  b /= sxx;
  double tx = qc.x - (a * pc.x - b * pc.y), ty = qc.y - (b * pc.x + a * pc.y);
  return cv::Matx23d(a, -b, tx, b, a, ty);
}
}  // namespace

void align_face(const View& v, FaceWork& f, const ModelSpec& spec) {
  const double sx = spec.width / 112.0, sy = spec.height / 112.0;
  cv::Point2d p[5], q[5];
  for (int i = 0; i < 5; i++) {
    cv::Point2f ip = v.to_img(f.lm5[i]);
    p[i] = cv::Point2d(ip.x, ip.y);
    q[i] = cv::Point2d(kTemplate112[i][0] * sx, kTemplate112[i][1] * sy);
  }
  cv::Matx23d M = similarity(p, q, 5);
  const double k = std::sqrt(M(0, 0) * M(0, 0) + M(1, 0) * M(1, 0));  // output px per image px
  const cv::Size size(spec.width, spec.height);
  if (k < 0.5) {
    // Shrinking a lot: area-average the face region first.
    cv::Matx23d Minv;
    cv::invertAffineTransform(M, Minv);
    std::vector<cv::Point2d> corners = {{0, 0}, {double(size.width), 0}, {0, double(size.height)},
                                        {double(size.width), double(size.height)}};
    double x0 = 1e18, y0 = 1e18, x1 = -1e18, y1 = -1e18;
    for (auto& c : corners) {
      double X = Minv(0, 0) * c.x + Minv(0, 1) * c.y + Minv(0, 2), Y = Minv(1, 0) * c.x + Minv(1, 1) * c.y + Minv(1, 2);
      x0 = std::min(x0, X); y0 = std::min(y0, Y); x1 = std::max(x1, X); y1 = std::max(y1, Y);
    }
    cv::Rect r(int(std::floor(x0)) - 1, int(std::floor(y0)) - 1, int(std::ceil(x1 - x0)) + 3, int(std::ceil(y1 - y0)) + 3);
    r &= cv::Rect(0, 0, v.img.cols, v.img.rows);
    if (!r.empty()) {
      double shrink = 2.0 * k;
      cv::Size ss(std::max(1, int(std::lround(r.width * shrink))), std::max(1, int(std::lround(r.height * shrink))));
      cv::Mat small;
      cv::resize(v.img(r), small, ss, 0, 0, cv::INTER_AREA);
      double kx = double(ss.width) / r.width, ky = double(ss.height) / r.height;
      // small px -> image px: X = r.x + x/kx ; compose with M.
      cv::Matx23d M2(M(0, 0) / kx, M(0, 1) / ky, M(0, 2) + M(0, 0) * r.x + M(0, 1) * r.y,
                     M(1, 0) / kx, M(1, 1) / ky, M(1, 2) + M(1, 0) * r.x + M(1, 1) * r.y);
      warp_from_crop(small, M2, size, f.aligned, cv::Scalar(0, 0, 0));
      return;
    }
  }
  warp_from_crop(v.img, M, size, f.aligned, cv::Scalar(0, 0, 0));
}

}  // namespace vz
