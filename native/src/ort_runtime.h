// The second inference runtime: ONNX Runtime's C API, one session per net
// per worker (a NetSet is used by one analysis at a time, like OpenCV's Net).
// Nothing from onnxruntime_c_api.h leaks out of ort_runtime.cpp.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace vz {

class OrtNet {
 public:
  // Loads `path` with `threads` intra-op threads (1: no ORT thread pool).
  // Throws Error(VZ_ERR_MODEL) when the file does not load, and
  // Error(VZ_ERR_BACKEND) when the ONNX Runtime library is older than the
  // header this build was compiled with.
  OrtNet(const std::string& path, int threads);
  ~OrtNet();
  OrtNet(const OrtNet&) = delete;
  OrtNet& operator=(const OrtNet&) = delete;

  // The graph's outputs, in the graph's order.
  const std::vector<std::string>& output_names() const;
  // Runs the net on one float NCHW blob (any batch the graph accepts) and
  // returns each requested output as a 1 x K float row (K = all its values).
  std::vector<cv::Mat> forward(const cv::Mat& blob, const std::vector<std::string>& names);

 private:
  struct Impl;
  std::unique_ptr<Impl> p_;
};

// The ONNX Runtime version of the loaded library ("" when none was loaded).
std::string ort_version();

}  // namespace vz
