#include "ort_runtime.h"

#include <cstring>
#include <mutex>

#include <onnxruntime_c_api.h>

#include "common.h"

namespace vz {
namespace {

// One OrtEnv for the process, created on first use and kept until exit:
// ONNX Runtime wants the env to outlive every session, and releasing it
// while another engine in the same process still holds sessions would be a
// use-after-free. It stays reachable from this static, so LeakSanitizer
// does not count it.
struct Runtime {
  const OrtApi* api = nullptr;
  OrtEnv* env = nullptr;
  OrtMemoryInfo* cpu = nullptr;
  std::string error;
};

Runtime& runtime() {
  static Runtime rt;
  static std::once_flag once;
  std::call_once(once, [] {
    const OrtApiBase* base = OrtGetApiBase();
    rt.api = base ? base->GetApi(ORT_API_VERSION) : nullptr;
    if (!rt.api) {
      rt.error = std::string("the ONNX Runtime library (") + (base ? base->GetVersionString() : "?") +
                 ") does not serve C API version " + std::to_string(ORT_API_VERSION) +
                 " that this build was compiled against: install a newer one (native/README.md)";
      return;
    }
    OrtStatus* st = rt.api->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "vizor", &rt.env);
    if (!st) st = rt.api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &rt.cpu);
    if (st) {
      rt.error = std::string("ONNX Runtime: ") + rt.api->GetErrorMessage(st);
      rt.api->ReleaseStatus(st);
      rt.api = nullptr;
    }
  });
  if (!rt.api) fail(VZ_ERR_BACKEND, rt.error);
  return rt;
}

// Turns a failed OrtStatus into an Error (and frees it).
void check(OrtStatus* st, const std::string& what, int code = VZ_ERR_MODEL) {
  if (!st) return;
  const OrtApi* api = runtime().api;
  std::string msg = what + ": " + api->GetErrorMessage(st);
  api->ReleaseStatus(st);
  fail(code, msg);
}

// Owns an OrtValue.
struct ValueFree {
  const OrtApi* api;
  void operator()(OrtValue* v) const {
    if (v) api->ReleaseValue(v);
  }
};
using ValuePtr = std::unique_ptr<OrtValue, ValueFree>;

}  // namespace

struct OrtNet::Impl {
  const OrtApi* api = nullptr;
  OrtSession* session = nullptr;
  std::string path, input;
  std::vector<std::string> outputs;
};

OrtNet::OrtNet(const std::string& path, int threads) : p_(std::make_unique<Impl>()) {
  Runtime& rt = runtime();
  const OrtApi* api = rt.api;
  p_->api = api;
  p_->path = path;
  OrtSessionOptions* opts = nullptr;
  check(api->CreateSessionOptions(&opts), "ONNX Runtime session options");
  struct OptsGuard {
    const OrtApi* api;
    OrtSessionOptions* o;
    ~OptsGuard() { api->ReleaseSessionOptions(o); }
  } og{api, opts};
  // Threads are set explicitly: ORT's default is one per core for every
  // session, and each engine worker (each worker process, by default) owns a
  // whole set of sessions. Inter-op parallelism buys nothing for these
  // chain-shaped graphs.
  check(api->SetIntraOpNumThreads(opts, std::max(1, threads)), "ONNX Runtime threads");
  check(api->SetInterOpNumThreads(opts, 1), "ONNX Runtime threads");
  check(api->SetSessionExecutionMode(opts, ORT_SEQUENTIAL), "ONNX Runtime execution mode");
  check(api->SetSessionGraphOptimizationLevel(opts, ORT_ENABLE_ALL), "ONNX Runtime optimisation level");
  // Spinning threads wait for work at full power between passes; with
  // several workers on few cores they take cycles from each other. Measured
  // on the shared 2-core machine, 1 worker x 2 threads: probe p50 18-21 ms
  // without spinning, 112-397 ms with it (native/README.md).
  check(api->AddSessionConfigEntry(opts, "session.intra_op.allow_spinning", "0"), "ONNX Runtime spinning");
  check(api->CreateSession(rt.env, path.c_str(), opts, &p_->session), "cannot load " + path + " with ONNX Runtime");

  OrtAllocator* alloc = nullptr;
  check(api->GetAllocatorWithDefaultOptions(&alloc), "ONNX Runtime allocator");
  auto name_of = [&](bool input, size_t i) {
    char* s = nullptr;
    check(input ? api->SessionGetInputName(p_->session, i, alloc, &s)
                : api->SessionGetOutputName(p_->session, i, alloc, &s),
          path + ": input/output name");
    std::string r(s);
    if (OrtStatus* fs = api->AllocatorFree(alloc, s)) api->ReleaseStatus(fs);
    return r;
  };
  size_t n_in = 0, n_out = 0;
  check(api->SessionGetInputCount(p_->session, &n_in), path);
  check(api->SessionGetOutputCount(p_->session, &n_out), path);
  if (n_in != 1) fail(VZ_ERR_MODEL, path + ": the engine feeds nets with exactly one input, this one has " +
                                        std::to_string(n_in));
  p_->input = name_of(true, 0);
  for (size_t i = 0; i < n_out; i++) p_->outputs.push_back(name_of(false, i));
}

OrtNet::~OrtNet() {
  if (p_ && p_->session) p_->api->ReleaseSession(p_->session);
}

const std::vector<std::string>& OrtNet::output_names() const { return p_->outputs; }

std::vector<cv::Mat> OrtNet::forward(const cv::Mat& blob, const std::vector<std::string>& names) {
  const OrtApi* api = p_->api;
  CV_Assert(blob.type() == CV_32F && blob.isContinuous());
  std::vector<int64_t> shape(blob.size.p, blob.size.p + blob.dims);
  OrtValue* in_raw = nullptr;
  check(api->CreateTensorWithDataAsOrtValue(runtime().cpu, const_cast<float*>(blob.ptr<float>()),
                                            blob.total() * sizeof(float), shape.data(), shape.size(),
                                            ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &in_raw),
        p_->path + ": input tensor");
  ValuePtr in(in_raw, ValueFree{api});
  const std::vector<std::string>& want = names.empty() ? p_->outputs : names;
  std::vector<const char*> out_names;
  for (auto& n : want) out_names.push_back(n.c_str());
  const char* in_name = p_->input.c_str();
  std::vector<OrtValue*> outs(want.size(), nullptr);
  const OrtValue* in_v = in.get();
  OrtStatus* st = api->Run(p_->session, nullptr, &in_name, &in_v, 1, out_names.data(), out_names.size(), outs.data());
  // Own whatever Run produced before anything can throw.
  std::vector<ValuePtr> owned;
  owned.reserve(outs.size());
  for (OrtValue* v : outs) owned.emplace_back(v, ValueFree{api});
  check(st, p_->path + ": run");
  std::vector<cv::Mat> res;
  for (size_t k = 0; k < owned.size(); k++) {
    OrtValue* v = owned[k].get();
    OrtTensorTypeAndShapeInfo* info = nullptr;
    check(api->GetTensorTypeAndShape(v, &info), p_->path + ": output shape");
    size_t count = 0;
    ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    OrtStatus* s1 = api->GetTensorShapeElementCount(info, &count);
    OrtStatus* s2 = s1 ? nullptr : api->GetTensorElementType(info, &type);
    api->ReleaseTensorTypeAndShapeInfo(info);
    check(s1, p_->path + ": output size");
    check(s2, p_->path + ": output type");
    if (type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) fail(VZ_ERR_MODEL, p_->path + ": output " + want[k] + " is not float");
    void* data = nullptr;
    check(api->GetTensorMutableData(v, &data), p_->path + ": output data");
    cv::Mat m(1, int(count), CV_32F);
    if (count) std::memcpy(m.ptr<float>(), data, count * sizeof(float));
    res.push_back(m);
  }
  return res;
}

std::string ort_version() {
  const OrtApiBase* base = OrtGetApiBase();
  return base ? base->GetVersionString() : "";
}

}  // namespace vz
