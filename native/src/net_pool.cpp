#include "net_pool.h"

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

std::unique_ptr<NetPool::Lease> NetPool::acquire() {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [&] { return !free_.empty(); });
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

std::vector<cv::Mat> run_net(NetSet& ns, int role, const cv::Mat& blob, const std::vector<std::string>& names_in) {
  cv::dnn::Net& net = ns.net[role];
  const std::vector<std::string>& names = names_in.empty() ? ns.out_names[role] : names_in;
  const int N = blob.size[0];
  std::vector<cv::Mat> res;
  auto flatten = [&](std::vector<cv::Mat>& outs, int n) {
    std::vector<cv::Mat> r;
    for (auto& o : outs) {
      if (o.total() % size_t(n) != 0) return std::vector<cv::Mat>{};
      cv::Mat m = o.reshape(1, n);
      r.push_back(m.isContinuous() ? m : m.clone());
    }
    return r;
  };
  if (N == 1 || ns.batch_ok[role] != 0) {
    std::vector<cv::Mat> outs;
    bool ok = true;
    try {
      net.setInput(blob);
      net.forward(outs, names);
      if (N > 1) {
        for (auto& o : outs)
          if (o.dims < 1 || o.size[0] != N) ok = false;
      }
    } catch (const cv::Exception&) {
      if (N == 1) throw;
      ok = false;
    }
    if (ok) {
      if (N > 1) ns.batch_ok[role] = 1;
      res = flatten(outs, N);
      if (!res.empty()) return res;
      if (N == 1) fail(VZ_ERR_MODEL, std::string(role_name(role)) + ": bad output shape");
    }
    ns.batch_ok[role] = 0;
    if (std::getenv("VIZOR_DEBUG_BATCH")) std::fprintf(stderr, "vizor: %s does not take a batch\n", role_name(role));
  }
  // One sample at a time.
  const size_t per = blob.total() / size_t(N);
  std::vector<int> shape(blob.size.p, blob.size.p + blob.dims);
  shape[0] = 1;
  for (int i = 0; i < N; i++) {
    cv::Mat one(int(shape.size()), shape.data(), CV_32F, const_cast<float*>(blob.ptr<float>()) + per * size_t(i));
    std::vector<cv::Mat> outs;
    net.setInput(one);
    net.forward(outs, names);
    if (i == 0) {
      for (auto& o : outs) res.push_back(cv::Mat(N, int(o.total()), CV_32F));
    }
    for (size_t k = 0; k < outs.size(); k++) {
      if (outs[k].total() != size_t(res[k].cols)) fail(VZ_ERR_MODEL, std::string(role_name(role)) + ": output size changed");
      std::memcpy(res[k].ptr<float>(i), outs[k].ptr<float>(), outs[k].total() * sizeof(float));
    }
  }
  return res;
}

}  // namespace vz
