// A bounded pool of per-worker network sets. cv::dnn::Net is not
// thread-safe, so each concurrent analysis borrows one whole set. A net runs
// on OpenCV DNN or on ONNX Runtime (ort[r] set), as the manifest's per-net
// "runtime" says.
#pragma once
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include <opencv2/dnn.hpp>

#include "common.h"
#include "ort_runtime.h"

namespace vz {

enum Role { R_DETECT, R_LANDMARK, R_RECOGNIZE, R_LIVENESS, R_AGE, R_GENDER, R_POSE, R_EYE, R_EXPRESSION, R_COUNT };
const char* role_name(int r);

struct NetSet {
  cv::dnn::Net net[R_COUNT];
  std::unique_ptr<OrtNet> ort[R_COUNT];  // set: this role runs on ONNX Runtime
  bool has[R_COUNT] = {};
  std::vector<std::string> out_names[R_COUNT];
  // Reused buffers.
  cv::Mat blob[R_COUNT];
  // 0: one sample per forward; 1: batches verified equal to single runs
  // (probe_batch at load).
  int batch_ok[R_COUNT] = {-1, -1, -1, -1, -1, -1, -1, -1, -1};  // -1: not probed yet
};

// Samples per forward pass: bounds a net's activation memory whatever the
// number of faces in a call.
constexpr int kMaxForwardBatch = 16;

// Runs net `role` on an NCHW blob and returns each requested output as an
// N x K float matrix: batched forwards of up to kMaxForwardBatch when
// probe_batch verified batching, else one forward per sample.
std::vector<cv::Mat> run_net(NetSet& ns, int role, const cv::Mat& blob,
                             const std::vector<std::string>& names = {});
// Runs the net on two random samples, batched and one by one; batching is
// used only if both agree. Also warms the net up.
void probe_batch(NetSet& ns, int role, const std::vector<int>& shape,
                 const std::vector<std::string>& names = {});
struct BackendChoice {
  int backend = cv::dnn::DNN_BACKEND_OPENCV;
  int target = cv::dnn::DNN_TARGET_CPU;
  std::string name = "cpu";
  int threads = 1;  // intra-op threads of each ONNX Runtime session
};

class NetPool {
 public:
  NetPool(const Manifest& m, const BackendChoice& b, int workers);
  class Lease {
   public:
    Lease(NetPool* p, NetSet* s) : pool_(p), set_(s) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_->release(set_); }
    NetSet& operator*() { return *set_; }
    NetSet* operator->() { return set_; }
   private:
    NetPool* pool_;
    NetSet* set_;
  };
  // Waits for a free set; NULL when `cancel` is set first.
  std::unique_ptr<Lease> acquire(const CancelFlag* cancel = nullptr);
  int size() const { return int(sets_.size()); }
  const NetSet& first() const { return *sets_[0]; }

 private:
  void release(NetSet* s);
  std::vector<std::unique_ptr<NetSet>> sets_;
  std::vector<NetSet*> free_;
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace vz
