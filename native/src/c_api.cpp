// The C ABI: argument checks, exception fences and conversion of engine
// results into the plain structs of vizor_c.h.
#include <cstdlib>
#include <cstring>
#include <new>

#include "engine.h"
#include "image_decode.h"
#include "stages.h"
#include "vizor_c.h"

#define VZ_API extern "C" __attribute__((visibility("default")))

struct vz_engine {
  std::unique_ptr<vz::Engine> impl;
};

struct vz_cancel {
  vz::CancelFlag flag;
};

namespace {

char* dup_msg(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p) std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}
vz_status ok() { return vz_status{VZ_OK, nullptr}; }
vz_status err(int code, const std::string& msg) { return vz_status{code, dup_msg(msg)}; }

// Runs f() and turns exceptions into a status.
template <class F>
vz_status guard(F&& f) {
  try {
    return f();
  } catch (const vz::Error& e) {
    return err(e.code, e.what());
  } catch (const cv::Exception& e) {
    return err(VZ_ERR_INTERNAL, std::string("opencv: ") + e.what());
  } catch (const std::bad_alloc&) {
    return err(VZ_ERR_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return err(VZ_ERR_INTERNAL, e.what());
  } catch (...) {
    return err(VZ_ERR_INTERNAL, "unknown exception");
  }
}

void free_result(vz_batch_result* r) {
  if (!r) return;
  if (r->images) {
    for (int32_t i = 0; i < r->count; i++) {
      vz_image_result& im = r->images[i];
      if (im.faces) {
        for (int32_t k = 0; k < im.num_faces; k++) std::free(const_cast<float*>(im.faces[k].template_data));
        std::free(im.faces);
      }
    }
    std::free(r->images);
  }
  std::free(r);
}

}  // namespace

VZ_API void vz_Status_Free(vz_status* status) {
  try {
    if (!status) return;
    std::free(status->message);
    status->message = nullptr;
  } catch (...) {
  }
}

VZ_API vz_status vz_Engine_Create(const vz_engine_config* config, vz_engine** out) {
  return guard([&]() -> vz_status {
    if (!out) return err(VZ_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = nullptr;
    if (!config) return err(VZ_ERR_INVALID_ARGUMENT, "config is NULL");
    if (!config->models_dir || !*config->models_dir) return err(VZ_ERR_INVALID_ARGUMENT, "models_dir is empty");
    if (config->workers < 0 || config->workers > 256) return err(VZ_ERR_INVALID_ARGUMENT, "workers must be 0..256");
    if (config->threads_per_worker < 0 || config->threads_per_worker > 256)
      return err(VZ_ERR_INVALID_ARGUMENT, "threads_per_worker must be 0..256");
    if (config->max_pixels < 0 || config->max_bytes < 0)
      return err(VZ_ERR_INVALID_ARGUMENT, "max_pixels and max_bytes must be >= 0");
    if (config->max_faces < 0 || config->max_faces > 100000)
      return err(VZ_ERR_INVALID_ARGUMENT, "max_faces must be 0..100000");
    vz::EngineConfig c;
    c.models_dir = config->models_dir;
    if (config->manifest_path) c.manifest_path = config->manifest_path;
    c.workers = config->workers;
    c.threads = config->threads_per_worker > 0 ? config->threads_per_worker : 1;
    c.backend = (config->backend && *config->backend) ? config->backend : "cpu";
    c.precision = (config->precision && *config->precision) ? config->precision : "fp32";
    if (c.backend != "cpu" && c.backend != "cuda")
      return err(VZ_ERR_INVALID_ARGUMENT, "backend must be \"cpu\" or \"cuda\", got \"" + c.backend + "\"");
    if (c.precision != "fp32" && c.precision != "fp16")
      return err(VZ_ERR_INVALID_ARGUMENT, "precision must be \"fp32\" or \"fp16\", got \"" + c.precision + "\"");
    if (c.precision == "fp16" && c.backend != "cuda")
      return err(VZ_ERR_INVALID_ARGUMENT, "precision fp16 needs backend cuda");
    c.limits.max_pixels = config->max_pixels > 0 ? config->max_pixels : 50000000;
    c.limits.max_bytes = config->max_bytes > 0 ? config->max_bytes : (32ll << 20);
    c.verify = config->verify_checksums != 0;
    c.max_faces = config->max_faces > 0 ? config->max_faces : 64;
    auto e = std::make_unique<vz_engine>();
    e->impl = std::make_unique<vz::Engine>(c);
    *out = e.release();
    return ok();
  });
}

VZ_API void vz_Engine_Destroy(vz_engine* engine) {
  try {
    delete engine;
  } catch (...) {
  }
}

VZ_API vz_status vz_Engine_Info(const vz_engine* engine, vz_engine_info* out) {
  return guard([&]() -> vz_status {
    if (!engine || !engine->impl) return err(VZ_ERR_INVALID_ARGUMENT, "engine is NULL");
    if (!out) return err(VZ_ERR_INVALID_ARGUMENT, "out is NULL");
    engine->impl->info(out);
    return ok();
  });
}

VZ_API vz_status vz_Engine_Analyze(vz_engine* engine, const vz_image* images, int32_t count,
                                   const vz_analyze_options* options, vz_batch_result** out) {
  return guard([&]() -> vz_status {
    if (!out) return err(VZ_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = nullptr;
    if (!engine || !engine->impl) return err(VZ_ERR_INVALID_ARGUMENT, "engine is NULL");
    if (count < 0) return err(VZ_ERR_INVALID_ARGUMENT, "count is negative");
    if (count > 0 && !images) return err(VZ_ERR_INVALID_ARGUMENT, "images is NULL");
    if (count > 65536) return err(VZ_ERR_INVALID_ARGUMENT, "count over 65536");
    vz_analyze_options o{};
    if (options) o = *options;
    if (o.max_faces < 0) return err(VZ_ERR_INVALID_ARGUMENT, "max_faces is negative");
    if (o.min_face_px < 0) return err(VZ_ERR_INVALID_ARGUMENT, "min_face_px is negative");
    if (!(o.det_threshold < 1.0f) || o.det_threshold != o.det_threshold)
      return err(VZ_ERR_INVALID_ARGUMENT, "det_threshold must be < 1 (<= 0: default)");
    if (o.stages & ~uint32_t(VZ_STAGE_ALL)) return err(VZ_ERR_INVALID_ARGUMENT, "unknown stage flags");
    if (o.attributes & ~uint32_t(VZ_ATTR_ALL)) return err(VZ_ERR_INVALID_ARGUMENT, "unknown attribute flags");

    std::vector<vz::ImageOut> res = engine->impl->analyze(images, count, o, o.cancel ? &o.cancel->flag : nullptr);

    auto* r = static_cast<vz_batch_result*>(std::calloc(1, sizeof(vz_batch_result)));
    if (!r) throw std::bad_alloc();
    std::unique_ptr<vz_batch_result, void (*)(vz_batch_result*)> hold(r, free_result);
    if (count > 0) {
      r->images = static_cast<vz_image_result*>(std::calloc(size_t(count), sizeof(vz_image_result)));
      if (!r->images) throw std::bad_alloc();
    }
    r->count = count;
    for (int32_t i = 0; i < count; i++) {
      const vz::ImageOut& s = res[size_t(i)];
      vz_image_result& d = r->images[i];
      d.code = s.code;
      std::snprintf(d.message, sizeof(d.message), "%s", s.message.c_str());
      d.width = s.width;
      d.height = s.height;
      d.timings = s.t;
      if (s.faces.empty()) continue;
      d.faces = static_cast<vz_face*>(std::calloc(s.faces.size(), sizeof(vz_face)));
      if (!d.faces) throw std::bad_alloc();
      d.num_faces = int32_t(s.faces.size());
      for (size_t k = 0; k < s.faces.size(); k++) {
        const vz::FaceWork& f = s.faces[k];
        vz_face& g = d.faces[k];
        g.x = f.box.x;
        g.y = f.box.y;
        g.w = f.box.width;
        g.h = f.box.height;
        g.det_score = f.score;
        if (f.has_landmarks) {
          for (int j = 0; j < 68; j++) {
            g.landmarks68[2 * j] = f.lm68[j].x;
            g.landmarks68[2 * j + 1] = f.lm68[j].y;
          }
          for (int j = 0; j < 5; j++) {
            g.landmarks5[2 * j] = f.lm5[j].x;
            g.landmarks5[2 * j + 1] = f.lm5[j].y;
          }
        }
        g.liveness = f.liveness;
        g.liveness_status = f.liveness >= 0                        ? VZ_LIVENESS_SCORED
                            : f.liveness == vz::kLivenessGreyscale ? VZ_LIVENESS_GREYSCALE
                            : f.liveness == vz::kLivenessTooSmall  ? VZ_LIVENESS_FACE_TOO_SMALL
                                                                   : VZ_LIVENESS_NOT_COMPUTED;
        if (g.liveness_status != VZ_LIVENESS_SCORED) g.liveness = -1;
        g.quality = f.quality;
        g.attributes = f.attr;
        if (!f.tmpl.empty()) {
          float* t = static_cast<float*>(std::malloc(f.tmpl.size() * sizeof(float)));
          if (!t) throw std::bad_alloc();
          std::memcpy(t, f.tmpl.data(), f.tmpl.size() * sizeof(float));
          g.template_data = t;
          g.template_dim = int32_t(f.tmpl.size());
        }
      }
    }
    *out = hold.release();
    return ok();
  });
}

VZ_API vz_status vz_Cancel_Create(vz_cancel** out) {
  return guard([&]() -> vz_status {
    if (!out) return err(VZ_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = new vz_cancel();
    return ok();
  });
}

VZ_API vz_status vz_Cancel_Set(vz_cancel* cancel) {
  return guard([&]() -> vz_status {
    if (!cancel) return err(VZ_ERR_INVALID_ARGUMENT, "cancel is NULL");
    cancel->flag.set.store(1, std::memory_order_relaxed);
    return ok();
  });
}

VZ_API void vz_Cancel_Destroy(vz_cancel* cancel) {
  try {
    delete cancel;
  } catch (...) {
  }
}

VZ_API void vz_BatchResult_Free(vz_batch_result* result) {
  try {
    free_result(result);
  } catch (...) {
  }
}

VZ_API vz_status vz_Image_Probe(const uint8_t* data, int64_t len, char format[16], int32_t* width,
                                int32_t* height) {
  return guard([&]() -> vz_status {
    if (!data && len > 0) return err(VZ_ERR_INVALID_ARGUMENT, "data is NULL");
    if (len < 0) return err(VZ_ERR_INVALID_ARGUMENT, "len is negative");
    vz::ImageHeader h;
    std::string why;
    if (!vz::probe_image(data, size_t(len), h, &why)) return err(VZ_ERR_DECODE, why);
    if (format) std::snprintf(format, 16, "%s", h.format.c_str());
    if (width) *width = h.oriented_width();
    if (height) *height = h.oriented_height();
    return ok();
  });
}
