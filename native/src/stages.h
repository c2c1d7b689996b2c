// The per-stage functions of the pipeline. Each takes the borrowed NetSet.
#pragma once
#include <vector>

#include <opencv2/core.hpp>

#include "common.h"
#include "net_pool.h"

namespace vz {

// A view of (part of) the source image: pixel p of img is source point
// origin + p / scale.
struct View {
  cv::Mat img;  // 8UC3 BGR
  cv::Point2d origin{0, 0};
  double scale = 1.0;
  cv::Point2f to_src(cv::Point2f p) const {
    return {float(origin.x + p.x / scale), float(origin.y + p.y / scale)};
  }
  cv::Point2f to_img(cv::Point2f p) const {
    return {float((p.x - origin.x) * scale), float((p.y - origin.y) * scale)};
  }
};

// cv::warpAffine of `src` onto `size` through M (src px -> out px), reading
// only the crop of src that the output maps onto: works for sources of any
// size (warpAffine itself asserts sides under 32,767 px).
void warp_from_crop(const cv::Mat& src, const cv::Matx23d& M, cv::Size size, cv::Mat& out, const cv::Scalar& fill);

// Crops source rectangle `r` out of the view and resizes it to `size`;
// outside the view is filled with `fill`.
void crop_resize(const View& v, const cv::Rect2f& r, cv::Size size, cv::Mat& out,
                 const cv::Scalar& fill = cv::Scalar(0, 0, 0));

// JS-style crop: the box scaled by `scale` about its centre, shifted to stay
// inside the image and clamped to it (fr_liveness/fr_age/fr_landmark).
cv::Rect2f shifted_crop(const cv::Rect2f& box, float scale, int W, int H);

// ---- detector
struct Detection {
  cv::Rect2f box;  // source pixels
  float score;
};
struct DetectParams {
  float threshold = 0.7f;
  float min_face = 40.f;  // source pixels
  float nms_iou = 0.4f;
  int max_faces = 0;
  const CancelFlag* cancel = nullptr;  // checked between tile chunks
};
// Detector tiles one image may cost (native/README.md, "Limits"): a plan over
// it is refused (explicit min_face_px) or searched coarser (automatic).
constexpr int kMaxDetTiles = 128;
// Tiles per forward pass (bounds the input blob at ~30 MB).
constexpr int kDetChunk = 32;
// NMS bounds: the strongest candidates that enter, the boxes it keeps.
constexpr int kMaxDetCandidates = 20000;
constexpr int kMaxDetKeep = 2000;
struct DetectStats {
  int levels = 0, tiles = 0;
};
// The smallest face (detector-input pixels) the detector is asked to find.
constexpr float kDetMinNetFace = 20.f;
// Detection scale wanted for a source of W x H: net pixels per source pixel.
double detect_scale_needed(const ModelSpec& spec, int W, int H, float min_face);
// Tiles the pyramid for a W x H source and `min_face` needs (at full
// resolution); kMaxDetTiles + 1 when over the budget.
int detect_tiles_needed(const ModelSpec& spec, int W, int H, float min_face);
std::vector<Detection> detect_faces(NetSet& ns, const ModelSpec& spec, const View& v, int srcW, int srcH,
                                    const DetectParams& p, DetectStats* stats = nullptr);

// ---- landmarks + alignment
// Runs the 68-point model on every face (one batch). `views[i]` is the view
// face i is cropped from.
void landmarks68(NetSet& ns, const ModelSpec& spec, const std::vector<const View*>& views,
                 std::vector<FaceWork*>& faces, const std::vector<cv::Size>& src_sizes);
void five_points(FaceWork& f);
// Aligns to the ArcFace 112 template scaled to spec's input size.
void align_face(const View& v, FaceWork& f, const ModelSpec& spec);

// ---- recognizer
void embed(NetSet& ns, const ModelSpec& spec, std::vector<FaceWork*>& faces, int expected_dim);

// ---- liveness
// FaceWork::liveness carries why a face has no score as a negative code
// (common.h is shared by every stage; the C glue turns the code into
// vz_face.liveness_status): -1 not computed, these two for withheld PAD.
constexpr float kLivenessGreyscale = -2.f;
constexpr float kLivenessTooSmall = -3.f;
// PAD is withheld below these (native/README.md, "Presentation attack
// detection"): the mean chroma (max - min of B, G, R, 0-255 levels) of the
// PAD crop under which the face counts as greyscale, and the smallest face
// box side, in source pixels, the model is asked to judge.
constexpr float kPadGreyChroma = 4.f;
constexpr float kPadMinFacePx = 40.f;
// The mean chroma of an 8-bit BGR image, as kPadGreyChroma measures it.
float mean_chroma(const cv::Mat& bgr);
void liveness(NetSet& ns, const ModelSpec& spec, const std::vector<const View*>& views,
              std::vector<FaceWork*>& faces, const std::vector<cv::Size>& src_sizes);

// ---- attributes (age, gender, pose, expression, eyes)
void eyes_open(NetSet& ns, const ModelSpec& spec, const std::vector<const View*>& views,
               std::vector<FaceWork*>& faces);
const std::vector<std::string>& ssr_outputs();  // age/gender heads
void attributes(NetSet& ns, const Manifest& m, uint32_t attrs, const std::vector<const View*>& views,
                std::vector<FaceWork*>& faces, const std::vector<cv::Size>& src_sizes);

// ---- quality
void landmark_pose(FaceWork& f);  // fills pose_proxy_* from landmarks
void quality(FaceWork& f, float det_threshold);

}  // namespace vz
