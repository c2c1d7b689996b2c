// Internal types shared by the native sources. Nothing here crosses the C ABI.
#pragma once
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "vizor_c.h"

namespace vz {

// Error carries a vz_code; the C glue turns it into a vz_status.
struct Error : std::runtime_error {
  int code;
  Error(int c, const std::string& m) : std::runtime_error(m), code(c) {}
};
[[noreturn]] inline void fail(int code, const std::string& msg) { throw Error(code, msg); }

// Cancellation shared with a caller (the C ABI's vz_cancel): set from any
// thread, read at stage boundaries.
struct CancelFlag {
  std::atomic<int> set{0};
};
inline bool cancelled(const CancelFlag* c) { return c && c->set.load(std::memory_order_relaxed) != 0; }
inline void check_cancel(const CancelFlag* c) {
  if (cancelled(c)) fail(VZ_ERR_CANCELLED, "cancelled");
}

using Clock = std::chrono::steady_clock;
inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// One model of the manifest.
struct ModelSpec {
  std::string role, name, file, path, sha256, source, family, id;
  int width = 0, height = 0, channels = 3;
  std::string order = "RGB";  // RGB, BGR or GRAY (with 3 channels: luminance on each)
  float mean[3] = {0, 0, 0};
  float std[3] = {1, 1, 1};
  int dim = 0;                      // recognizer output length (0: ask the net)
  std::vector<std::string> labels;  // classifier labels (expression)
  std::vector<std::string> outputs; // named outputs, when the family needs them
  float threshold = 0;              // detector default threshold (0: built-in)
  int positive_class = -1;              // liveness: index of the "live" class
  float crop_scale = 0;             // crop scale around the face box (liveness, age, ...)
  bool flip = false;                // recognizer: embed the crop and its mirror, sum
  std::string runtime = "opencv";   // "opencv" (OpenCV DNN) or "ort" (ONNX Runtime)
};

struct Manifest {
  std::string path, dir;
  std::vector<ModelSpec> models;
  const ModelSpec* find(const std::string& role) const {
    for (auto& m : models)
      if (m.role == role) return &m;
    return nullptr;
  }
};

// Reads a JSON manifest with cv::FileStorage. Throws Error(VZ_ERR_MODEL).
Manifest load_manifest(const std::string& path, const std::string& models_dir);
std::string sha256_file(const std::string& path);
std::string sha256_string(const std::string& data);

// Fills a float NCHW blob slice (one image) from an 8-bit BGR or GRAY image
// already resized to the model's input size, applying order/mean/std.
void fill_blob(const cv::Mat& img, const ModelSpec& spec, float* dst);

// A face inside the engine; converted to vz_face at the end.
struct FaceWork {
  cv::Rect2f box;        // square face box, source pixels
  cv::Rect2f raw_box;    // detector box, source pixels
  float score = 0;
  bool has_landmarks = false;
  cv::Point2f lm68[68];  // source pixels
  cv::Point2f lm5[5];
  cv::Mat aligned;       // 8UC3 BGR aligned crop (recognizer size)
  cv::Mat aligned_gray;  // for sharpness
  std::vector<float> tmpl;
  float liveness = -1;
  vz_quality quality{-1, -1, -1, -1, -1, -1, -1};
  vz_attributes attr{};
  float pose_proxy_yaw = 0, pose_proxy_pitch = 0, pose_proxy_roll = 0;
};

}  // namespace vz
