#include "net_pool.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vz {

const char* role_name(int r) {
  static const char* names[R_COUNT] = {"detector", "landmarker", "recognizer", "liveness", "age",
                                       "gender",   "pose",       "eye",        "expression"};
  return (r >= 0 && r < R_COUNT) ? names[r] : "?";
}

NetPool::NetPool(const Manifest& m, const BackendChoice& b, int workers) {
  for (int w = 0; w < workers; w++) {
    auto set = std::make_unique<NetSet>();
    for (int r = 0; r < R_COUNT; r++) {
      const ModelSpec* spec = m.find(role_name(r));
      if (!spec) continue;
      // The CUDA switch is OpenCV DNN's: with it every net runs there.
      if (spec->runtime == "ort" && b.backend == cv::dnn::DNN_BACKEND_OPENCV) {
        set->ort[r] = std::make_unique<OrtNet>(spec->path, b.threads);
        set->out_names[r] = spec->outputs.empty() ? set->ort[r]->output_names() : spec->outputs;
        set->has[r] = true;
        if (r == R_DETECT && (spec->family.empty() || spec->family == "ultraface")) set->batch_ok[r] = 0;
        continue;
      }
      try {
        set->net[r] = cv::dnn::readNetFromONNX(spec->path);
      } catch (const cv::Exception& e) {
        fail(VZ_ERR_MODEL, "cannot load " + spec->path + ": " + e.what());
      }
      if (set->net[r].empty()) fail(VZ_ERR_MODEL, "cannot load " + spec->path);
      set->net[r].setPreferableBackend(b.backend);
      set->net[r].setPreferableTarget(b.target);
      set->out_names[r] = spec->outputs.empty() ? set->net[r].getUnconnectedOutLayersNames() : spec->outputs;
      set->has[r] = true;
      // UltraFace's baked-in priors pin the batch to 1.
      if (r == R_DETECT && (spec->family.empty() || spec->family == "ultraface")) set->batch_ok[r] = 0;
    }
    free_.push_back(set.get());
    sets_.push_back(std::move(set));
  }
}

std::unique_ptr<NetPool::Lease> NetPool::acquire(const CancelFlag* cancel) {
  std::unique_lock<std::mutex> lk(mu_);
  if (!cancel) {
    cv_.wait(lk, [&] { return !free_.empty(); });
  } else {
    // The token is set from another thread without touching this pool:
    // look at it every few milliseconds while waiting.
    while (free_.empty()) {
      if (cancelled(cancel)) return nullptr;
      cv_.wait_for(lk, std::chrono::milliseconds(10));
    }
    if (cancelled(cancel)) return nullptr;
  }
  NetSet* s = free_.back();
  free_.pop_back();
  return std::make_unique<Lease>(this, s);
}

void NetPool::release(NetSet* s) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    free_.push_back(s);
  }
  cv_.notify_one();
}

namespace {

// One forward pass of role's net, on whichever runtime it has.
std::vector<cv::Mat> forward_raw(NetSet& ns, int role, const cv::Mat& blob, const std::vector<std::string>& names) {
  if (ns.ort[role]) return ns.ort[role]->forward(blob, names);
  std::vector<cv::Mat> outs;
  ns.net[role].setInput(blob);
  ns.net[role].forward(outs, names);
  return outs;
}

std::vector<cv::Mat> forward_batch(NetSet& ns, int role, const cv::Mat& blob, const std::vector<std::string>& names) {
  const int N = blob.size[0];
  std::vector<cv::Mat> res;
  std::vector<cv::Mat> outs = forward_raw(ns, role, blob, names);
  for (auto& o : outs) {
    // Some of these graphs end in a Reshape to [1, -1]: the samples come out
    // concatenated, which is fine once split by N (probe_batch checks it).
    if (o.total() % size_t(N) != 0) fail(VZ_ERR_MODEL, "batched output not divisible by the batch");
    cv::Mat m = o.reshape(1, N);
    res.push_back(m.isContinuous() ? m : m.clone());
  }
  return res;
}

std::vector<cv::Mat> forward_each(NetSet& ns, int r, const cv::Mat& blob, const std::vector<std::string>& names) {
  const char* role = role_name(r);
  const int N = blob.size[0];
  const size_t per = blob.total() / size_t(N);
  std::vector<int> shape(blob.size.p, blob.size.p + blob.dims);
  shape[0] = 1;
  std::vector<cv::Mat> res;
  for (int i = 0; i < N; i++) {
    cv::Mat one(int(shape.size()), shape.data(), CV_32F, const_cast<float*>(blob.ptr<float>()) + per * size_t(i));
    std::vector<cv::Mat> outs = forward_raw(ns, r, one, names);
    if (i == 0)
      for (auto& o : outs) res.push_back(cv::Mat(N, int(o.total()), CV_32F));
    for (size_t k = 0; k < outs.size(); k++) {
      if (outs[k].total() != size_t(res[k].cols)) fail(VZ_ERR_MODEL, std::string(role) + ": output size changed");
      std::memcpy(res[k].ptr<float>(i), outs[k].ptr<float>(), outs[k].total() * sizeof(float));
    }
  }
  return res;
}

}  // namespace

void probe_batch(NetSet& ns, int role, const std::vector<int>& shape_in, const std::vector<std::string>& names_in) {
  const std::vector<std::string>& names = names_in.empty() ? ns.out_names[role] : names_in;
  std::vector<int> shape = shape_in;
  shape[0] = 2;
  cv::Mat blob(int(shape.size()), shape.data(), CV_32F);
  cv::RNG rng(12345);
  rng.fill(blob, cv::RNG::UNIFORM, -1.0, 1.0);
  std::vector<cv::Mat> each = forward_each(ns, role, blob, names);
  if (ns.batch_ok[role] == 0) return;  // known not to batch (detector)
  ns.batch_ok[role] = 0;
  std::vector<cv::Mat> batch;
  try {
    batch = forward_batch(ns, role, blob, names);
  } catch (const std::exception&) {
    return;
  }
  if (batch.size() != each.size()) return;
  for (size_t k = 0; k < each.size(); k++) {
    if (batch[k].size() != each[k].size()) return;
    double err = cv::norm(batch[k], each[k], cv::NORM_INF), mag = cv::norm(each[k], cv::NORM_INF);
    if (!(err <= 1e-4 * std::max(1.0, mag))) return;
  }
  ns.batch_ok[role] = 1;
}

std::vector<cv::Mat> run_net(NetSet& ns, int role, const cv::Mat& blob, const std::vector<std::string>& names_in) {
  const std::vector<std::string>& names = names_in.empty() ? ns.out_names[role] : names_in;
  const int N = blob.size[0];
  if (N <= 1 || ns.batch_ok[role] != 1) return forward_each(ns, role, blob, names);
  if (N <= kMaxForwardBatch) return forward_batch(ns, role, blob, names);
  // A net's activations grow with the batch (the recognizer's reach ~4 MB a
  // face): forward at most kMaxForwardBatch samples at a time, so that a
  // call with many faces costs time, not memory.
  const size_t per = blob.total() / size_t(N);
  std::vector<int> shape(blob.size.p, blob.size.p + blob.dims);
  std::vector<cv::Mat> res;
  for (int i = 0; i < N; i += kMaxForwardBatch) {
    const int n = std::min(kMaxForwardBatch, N - i);
    shape[0] = n;
    cv::Mat part(int(shape.size()), shape.data(), CV_32F, const_cast<float*>(blob.ptr<float>()) + per * size_t(i));
    std::vector<cv::Mat> outs = forward_batch(ns, role, part, names);
    if (i == 0)
      for (auto& o : outs) res.push_back(cv::Mat(N, o.cols, CV_32F));
    if (outs.size() != res.size()) fail(VZ_ERR_MODEL, std::string(role_name(role)) + ": output count changed");
    for (size_t k = 0; k < outs.size(); k++) {
      if (outs[k].cols != res[k].cols) fail(VZ_ERR_MODEL, std::string(role_name(role)) + ": output size changed");
      outs[k].copyTo(res[k].rowRange(i, i + n));
    }
  }
  return res;
}

}  // namespace vz
