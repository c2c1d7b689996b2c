#pragma once
#include <memory>
#include <string>
#include <vector>

#include "common.h"
#include "image_decode.h"
#include "net_pool.h"

namespace vz {

struct EngineConfig {
  std::string models_dir, manifest_path, backend = "cpu", precision = "fp32";
  int workers = 0, threads = 1;
  DecodeLimits limits;
  bool verify = false;
  int max_faces = 64;  // faces per image past detection, whatever a call asks
};

// Engine-wide tunables (the README explains each).
struct Tuning {
  float default_threshold = 0.9f;  // replaced by the manifest's detector.threshold when set
  // Faces whose box is smaller than this in the coarse decode get a finer
  // crop (the box is ~2.2x the eye distance: 72 px puts the eyes ~33 px
  // apart, the template's 35). AUC on the test photos: 0.978 at 112, same at 72.
  float align_min_px = 72.f;
};

struct ImageOut {
  int code = VZ_OK;
  std::string message;
  int width = 0, height = 0;
  std::vector<FaceWork> faces;
  vz_timings t{};
};

class Engine {
 public:
  explicit Engine(const EngineConfig& cfg);
  void info(vz_engine_info* out) const;
  // Per-image failures (any exception in any stage) land in that image's
  // ImageOut; `cancel` (may be NULL) stops the call at the next boundary.
  std::vector<ImageOut> analyze(const vz_image* images, int count, const vz_analyze_options& opts,
                                const CancelFlag* cancel);
  const Manifest& manifest() const { return manifest_; }

 private:
  EngineConfig cfg_;
  Manifest manifest_;
  BackendChoice backend_;
  Tuning tune_;
  int cuda_built_ = 0, cuda_devices_ = 0;
  int template_dim_ = 0;
  std::unique_ptr<NetPool> pool_;
  // VIZOR_DEBUG_FAIL_STAGE (tests): the stage that throws, for images of
  // fault_w_ x fault_h_.
  std::string fault_stage_;
  int fault_w_ = 0, fault_h_ = 0;
  void inject_fault(const char* stage, int W, int H) const;
};

}  // namespace vz
