// The pipeline: decode (header first, DCT-scaled JPEG) -> detect (tiled
// pyramid) -> per-face finer crop when needed -> landmarks -> 5 points ->
// similarity warp -> embed, liveness, quality, attributes; every net stage
// runs once per call over all faces of all images.
#include "engine.h"

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <stdexcept>
#include <thread>

#include <opencv2/core/cuda.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "stages.h"

namespace vz {
namespace {

bool file_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}
bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Automatic smallest face (detector box height): 40 px, or 1/14 of the
// shorter side (pristin.jpg, 2100x1040, has boxes of 104-124 px; the search
// stays within a few tiles even for 12 MP photos).
float auto_min_face(int W, int H) { return std::max(40.f, std::min(W, H) / 14.f); }

// Largest band decoded for the fine views of several faces (pixels at its
// DCT scale: 24 MB as BGR, released once each face has copied its region).
constexpr double kSharedRegionPx = 8e6;

}  // namespace

Engine::Engine(const EngineConfig& cfg) : cfg_(cfg) {
  if (const char* a = std::getenv("VIZOR_ALIGN_MIN_PX")) tune_.align_min_px = float(std::atof(a));
  // Test hook: VIZOR_DEBUG_FAIL_STAGE=<stage>:<W>x<H> makes <stage> throw for
  // images of that (oriented) size, to prove that one image's failure stays
  // its own. Stages: decode, detect, refine, landmarks, align, embed,
  // liveness, attributes, quality.
  if (const char* f = std::getenv("VIZOR_DEBUG_FAIL_STAGE")) {
    const std::string spec = f;
    const size_t colon = spec.find(':');
    if (colon != std::string::npos &&
        std::sscanf(spec.c_str() + colon + 1, "%dx%d", &fault_w_, &fault_h_) == 2)
      fault_stage_ = spec.substr(0, colon);
  }
  if (!is_dir(cfg_.models_dir)) fail(VZ_ERR_MODEL, "models directory not found: " + cfg_.models_dir);
  std::string mpath = cfg_.manifest_path;
  if (mpath.empty()) {
    mpath = cfg_.models_dir + "/manifest.json";
    if (!file_exists(mpath) && file_exists(cfg_.models_dir + "/manifest")) mpath = cfg_.models_dir + "/manifest";
  }
  manifest_ = load_manifest(mpath, cfg_.models_dir);
  for (const char* need : {"detector", "landmarker", "recognizer"})
    if (!manifest_.find(need)) fail(VZ_ERR_MODEL, std::string("manifest lacks a ") + need);
  for (auto& m : manifest_.models) {
    if (!file_exists(m.path)) fail(VZ_ERR_MODEL, "model file missing: " + m.path);
    if (cfg_.verify) {
      if (m.sha256.empty()) fail(VZ_ERR_MODEL, "manifest has no sha256 for " + m.name);
      std::string got = sha256_file(m.path);
      if (got != m.sha256) fail(VZ_ERR_MODEL, "sha256 mismatch for " + m.file + ": manifest " + m.sha256 + ", file " + got);
    }
  }
  const ModelSpec& det = *manifest_.find("detector");
  if (!det.family.empty() && det.family != "ultraface")
    fail(VZ_ERR_MODEL, "detector family " + det.family + " is not supported (ultraface)");
  if (det.threshold > 0) tune_.default_threshold = det.threshold;
  template_dim_ = manifest_.find("recognizer")->dim;

  // Backend.
  for (auto& bt : cv::dnn::getAvailableBackends())
    if (bt.first == cv::dnn::DNN_BACKEND_CUDA) cuda_built_ = 1;
  cuda_devices_ = std::max(0, cv::cuda::getCudaEnabledDeviceCount());
  if (cfg_.backend == "cuda") {
#ifdef VIZOR_WITH_CUDA
    if (!cuda_built_) fail(VZ_ERR_BACKEND, "backend cuda: OpenCV was built without CUDA (no DNN CUDA backend)");
    if (cuda_devices_ <= 0) fail(VZ_ERR_BACKEND, "backend cuda: no CUDA device");
    backend_.backend = cv::dnn::DNN_BACKEND_CUDA;
    backend_.target = cfg_.precision == "fp16" ? cv::dnn::DNN_TARGET_CUDA_FP16 : cv::dnn::DNN_TARGET_CUDA;
    backend_.name = cfg_.precision == "fp16" ? "cuda-fp16" : "cuda";
#else
    fail(VZ_ERR_BACKEND, std::string("backend cuda: this libvizor was built without VIZOR_WITH_CUDA (use the cuda preset)") +
                             (cuda_built_ ? "" : "; OpenCV was built without CUDA too"));
#endif
  }
  cv::setNumThreads(std::max(1, cfg_.threads));
  backend_.threads = std::max(1, cfg_.threads);
  int workers = cfg_.workers > 0 ? cfg_.workers : int(std::max(1u, std::thread::hardware_concurrency()));
  pool_ = std::make_unique<NetPool>(manifest_, backend_, workers);
  // Warm up every net of every set with a batch of two (the first forward
  // allocates and fuses layers), learning which nets take a batch (some of
  // these ONNX files pin the batch to 1 with a fixed Reshape) and the
  // recognizer's output size. OpenCV logs the failed batch attempts as
  // errors: silence it meanwhile.
  const auto old_level = cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  try {
    for (int w = 0; w < pool_->size(); w++) {
      auto lease = pool_->acquire();
      for (int r = 0; r < R_COUNT; r++) {
        if (!(*lease)->has[r]) continue;
        const ModelSpec& spec = *manifest_.find(role_name(r));
        const std::vector<std::string> names =
            r == R_AGE || r == R_GENDER ? ssr_outputs() : std::vector<std::string>{};
        std::vector<cv::Mat> outs;
        try {
          probe_batch(**lease, r, {1, spec.channels, spec.height, spec.width}, names);
          int shape[4] = {1, spec.channels, spec.height, spec.width};
          outs = run_net(**lease, r, cv::Mat(4, shape, CV_32F, cv::Scalar(0)), names);
        } catch (const cv::Exception& e) {
          fail(VZ_ERR_MODEL, "cannot run " + spec.file + " on the input the manifest declares (" +
                                 std::to_string(spec.width) + "x" + std::to_string(spec.height) + "x" +
                                 std::to_string(spec.channels) + "): " + e.what());
        }
        if (std::getenv("VIZOR_DEBUG_BATCH"))
          std::fprintf(stderr, "vizor: %s batches: %s\n", role_name(r), (*lease)->batch_ok[r] == 1 ? "yes" : "no");
        if (r == R_RECOGNIZE) {
          const int dim = outs.at(0).cols;
          if (template_dim_ > 0 && dim != template_dim_)
            fail(VZ_ERR_MODEL, "recognizer output has " + std::to_string(dim) + " values, manifest dim says " +
                                   std::to_string(template_dim_));
          template_dim_ = dim;
        }
      }
    }
  } catch (...) {
    cv::utils::logging::setLogLevel(old_level);
    throw;
  }
  cv::utils::logging::setLogLevel(old_level);
}

void Engine::info(vz_engine_info* out) const {
  std::memset(out, 0, sizeof(*out));
  auto cp = [](char* dst, size_t n, const std::string& s) {
    std::snprintf(dst, n, "%s", s.c_str());
  };
  out->abi_version = VZ_ABI_VERSION;
  cp(out->engine_version, sizeof(out->engine_version), VIZOR_VERSION);
  cp(out->opencv_version, sizeof(out->opencv_version), CV_VERSION);
  cp(out->backend, sizeof(out->backend), backend_.name);
  out->cuda_built = cuda_built_;
  out->cuda_devices = cuda_devices_;
  out->workers = pool_->size();
  out->template_dim = template_dim_;
  const ModelSpec* rec = manifest_.find("recognizer");
  cp(out->recognizer_id, sizeof(out->recognizer_id), rec->id);
  int n = 0;
  const NetSet& ns = pool_->first();
  for (auto& m : manifest_.models) {
    if (n >= VZ_MAX_MODELS) break;
    vz_model_info& mi = out->models[n++];
    cp(mi.role, sizeof(mi.role), m.role);
    cp(mi.name, sizeof(mi.name), m.name);
    cp(mi.id, sizeof(mi.id), m.id);
    cp(mi.file, sizeof(mi.file), m.file);
    cp(mi.sha256, sizeof(mi.sha256), m.sha256);
    mi.input_w = m.width;
    mi.input_h = m.height;
    mi.input_c = m.channels;
    for (int r = 0; r < R_COUNT; r++)
      if (m.role == role_name(r)) mi.loaded = ns.has[r] ? 1 : 0;
  }
  out->num_models = n;
}

namespace {

// Turns the exception being handled into the image's own result. `stage`
// names where it happened; an OpenCV failure while decoding is the file's
// fault (DECODE), elsewhere it is ours (INTERNAL), either way the image's
// only.
void record_failure(ImageOut& r, const char* stage) {
  const std::string where = std::string(stage) + ": ";
  try {
    throw;
  } catch (const Error& e) {
    r.code = e.code;
    r.message = e.what();
  } catch (const cv::Exception& e) {
    r.code = std::strcmp(stage, "decode") == 0 ? VZ_ERR_DECODE : VZ_ERR_INTERNAL;
    r.message = where + "opencv: " + e.what();
  } catch (const std::bad_alloc&) {
    r.code = VZ_ERR_INTERNAL;
    r.message = where + "out of memory";
  } catch (const std::exception& e) {
    r.code = VZ_ERR_INTERNAL;
    r.message = where + e.what();
  } catch (...) {
    r.code = VZ_ERR_INTERNAL;
    r.message = where + "unknown exception";
  }
}

void mark_cancelled(ImageOut& r) {
  r.code = VZ_ERR_CANCELLED;
  r.message = "cancelled";
}

// One face on its way through the batched stages.
struct Entry {
  FaceWork* face;
  const View* fine;    // finest view (a region decode for small faces)
  const View* coarse;  // the detection decode
  cv::Size size;       // oriented source size
  int image;
};
// The argument vectors of the stage functions for a subset of the entries.
struct Sub {
  std::vector<FaceWork*> faces;
  std::vector<const View*> fine, coarse;
  std::vector<cv::Size> size;
};

}  // namespace

void Engine::inject_fault(const char* stage, int W, int H) const {
  if (fault_stage_.empty() || fault_stage_ != stage || W != fault_w_ || H != fault_h_) return;
  throw std::runtime_error(std::string("injected fault (VIZOR_DEBUG_FAIL_STAGE) in ") + stage);
}

std::vector<ImageOut> Engine::analyze(const vz_image* images, int count, const vz_analyze_options& o,
                                      const CancelFlag* cancel) {
  uint32_t stages = o.stages ? o.stages : (VZ_STAGE_DETECT | VZ_STAGE_LANDMARKS | VZ_STAGE_TEMPLATE | VZ_STAGE_LIVENESS | VZ_STAGE_QUALITY);
  stages |= VZ_STAGE_DETECT;
  if (stages & (VZ_STAGE_TEMPLATE | VZ_STAGE_QUALITY)) stages |= VZ_STAGE_LANDMARKS;
  const uint32_t attrs = (stages & VZ_STAGE_ATTRIBUTES) ? (o.attributes ? o.attributes : uint32_t(VZ_ATTR_ALL)) : 0u;
  if (attrs & VZ_ATTR_EYES) stages |= VZ_STAGE_LANDMARKS;
  const float thr = o.det_threshold > 0 ? o.det_threshold : tune_.default_threshold;
  // Faces beyond the cap are dropped right after detection (largest kept),
  // before any per-face stage spends time or memory on them.
  const int face_cap = o.max_faces > 0 ? std::min(o.max_faces, cfg_.max_faces) : cfg_.max_faces;

  std::vector<ImageOut> res(static_cast<size_t>(count));
  if (count == 0) return res;
  auto lease = pool_->acquire(cancel);
  if (!lease) {
    for (auto& r : res) mark_cancelled(r);
    return res;
  }
  NetSet& ns = **lease;
  const ModelSpec& det = *manifest_.find("detector");

  struct Img {
    ImageHeader hdr;
    View coarse;
    int denom = 1;
  };
  std::vector<Img> work(static_cast<size_t>(count));
  std::deque<View> fine_views;  // stable addresses
  std::vector<Entry> entries;

  for (int i = 0; i < count; i++) {
    ImageOut& r = res[size_t(i)];
    Img& w = work[size_t(i)];
    if (cancelled(cancel)) {
      mark_cancelled(r);
      continue;
    }
    const auto t0 = Clock::now();
    const char* stage = "decode";
    try {
      const vz_image& im = images[i];
      if (im.len < 0) fail(VZ_ERR_INVALID_ARGUMENT, "negative image length");
      if (!im.data && im.len > 0) fail(VZ_ERR_INVALID_ARGUMENT, "NULL image data");
      w.hdr = check_image(im.data, size_t(im.len), cfg_.limits);
      int W = w.hdr.oriented_width(), H = w.hdr.oriented_height();
      r.width = W;
      r.height = H;
      // The detector's tile budget, before anything is decoded: an explicit
      // face size that needs more is refused; the automatic one searches
      // coarser until it fits.
      float min_face = o.min_face_px > 0 ? float(o.min_face_px) : auto_min_face(W, H);
      int tiles = detect_tiles_needed(det, W, H, min_face);
      if (tiles > kMaxDetTiles && o.min_face_px > 0)
        fail(VZ_ERR_TOO_LARGE, "finding faces of " + std::to_string(o.min_face_px) + " px in " + std::to_string(W) +
                                   "x" + std::to_string(H) + " needs over " + std::to_string(kMaxDetTiles) +
                                   " detector tiles (the per-image budget): ask for larger faces");
      while (tiles > kMaxDetTiles && min_face < float(std::max(W, H))) {
        min_face *= 1.25f;
        tiles = detect_tiles_needed(det, W, H, min_face);
      }
      if (tiles > kMaxDetTiles)
        fail(VZ_ERR_TOO_LARGE, "a face search in " + std::to_string(W) + "x" + std::to_string(H) + " needs over " +
                                   std::to_string(kMaxDetTiles) + " detector tiles (the per-image budget)");
      const double need = detect_scale_needed(det, W, H, min_face);
      int denom = 1;
      if (w.hdr.format == "jpeg")
        for (int d : {8, 4, 2})
          if (1.0 / d >= need) { denom = d; break; }
      w.denom = denom;
      double sc = 1;
      w.coarse.img = decode_image(im.data, size_t(im.len), w.hdr, denom, &sc);
      w.coarse.scale = sc;
      if (w.hdr.format != "jpeg" && (w.coarse.img.cols != W || w.coarse.img.rows != H)) {
        // imdecode applied an orientation (decode_image checked that the
        // pixels are the header's size or its transpose): trust the pixels.
        w.hdr.width = W = w.coarse.img.cols;
        w.hdr.height = H = w.coarse.img.rows;
        w.hdr.orientation = 1;
        w.coarse.scale = 1.0;
        r.width = W;
        r.height = H;
      }
      inject_fault("decode", W, H);
      r.t.decode = ms_since(t0);
      check_cancel(cancel);
      stage = "detect";
      const auto t1 = Clock::now();
      DetectParams dp;
      dp.threshold = thr;
      dp.min_face = min_face;
      dp.max_faces = face_cap;
      dp.cancel = cancel;
      std::vector<Detection> dets = detect_faces(ns, det, w.coarse, W, H, dp);
      inject_fault("detect", W, H);
      r.t.detect = ms_since(t1);
      if (dets.empty()) fail(VZ_ERR_NO_FACE, "no face found at threshold " + std::to_string(thr));
      r.faces.resize(dets.size());
      for (size_t k = 0; k < dets.size(); k++) {
        FaceWork& f = r.faces[k];
        f.raw_box = dets[k].box;
        f.score = dets[k].score;
        // Square box of the detector box's height, clamped (fr_detect.js).
        const cv::Rect2f& b = dets[k].box;
        float side = b.height, cx = b.x + b.width / 2, cy = b.y + b.height / 2;
        float x0 = std::max(0.f, cx - side / 2), y0 = std::max(0.f, cy - side / 2);
        float x1 = std::min(float(W - 1), cx + side / 2), y1 = std::min(float(H - 1), cy + side / 2);
        f.box = cv::Rect2f(x0, y0, std::max(1.f, x1 - x0), std::max(1.f, y1 - y0));
        f.attr.age = -1;
        f.attr.gender = -1;
        f.attr.gender_score = -1;
        f.attr.yaw = f.attr.pitch = f.attr.roll = std::nanf("");
        f.attr.expression = -1;
        f.attr.left_eye_open = f.attr.right_eye_open = -1;
      }
      std::stable_sort(r.faces.begin(), r.faces.end(),
                       [](const FaceWork& a, const FaceWork& b) { return a.box.area() > b.box.area(); });
    } catch (...) {
      record_failure(r, stage);
      r.faces.clear();
      w.coarse = View{};  // give the decode back now
    }
    r.t.total = ms_since(t0);
  }
  // Finer crops for faces that are small in a reduced decode.
  for (int i = 0; i < count; i++) {
    ImageOut& r = res[size_t(i)];
    Img& w = work[size_t(i)];
    if (r.code != VZ_OK) continue;
    if (cancelled(cancel)) {
      mark_cancelled(r);
      continue;
    }
    const auto t0 = Clock::now();
    const size_t first = entries.size();
    try {
      // Which faces need a finer view, at which DCT scale, of which region.
      struct Need {
        int d = 0;  // 0: the coarse view will do
        cv::Rect roi;
        const View* view = nullptr;
      };
      std::vector<Need> need(r.faces.size());
      for (size_t k = 0; k < r.faces.size(); k++) {
        const FaceWork& f = r.faces[k];
        const float h_coarse = float(f.box.height * w.coarse.scale);
        if (!((stages & VZ_STAGE_LANDMARKS) && w.hdr.format == "jpeg" && w.denom > 1 && h_coarse < tune_.align_min_px))
          continue;
        int d = 1;
        for (int c : {4, 2, 1})
          if (c < w.denom && f.box.height / c >= tune_.align_min_px) { d = c; break; }
        // Region: the face box grown 2x (the aligned crop and the landmark
        // crop both fit inside).
        const cv::Rect2f& b = f.box;
        need[k].d = d;
        need[k].roi = cv::Rect(int(std::floor(b.x - b.width * 0.5f)), int(std::floor(b.y - b.height * 0.5f)),
                               int(std::ceil(b.width * 2)), int(std::ceil(b.height * 2))) &
                      cv::Rect(0, 0, r.width, r.height);
      }
      // Each region decode entropy-decodes the file from its top down to the
      // region, so decoding faces one by one costs (faces x image). Faces are
      // taken top to bottom in bands of at most kSharedRegionPx: one decode
      // per band, each face keeping only a copy of its own region.
      for (int d : {1, 2, 4}) {
        std::vector<size_t> order;
        for (size_t k = 0; k < need.size(); k++)
          if (need[k].d == d && !need[k].roi.empty()) order.push_back(k);
        std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return need[x].roi.y < need[y].roi.y; });
        size_t at = 0;
        while (at < order.size()) {
          cv::Rect band = need[order[at]].roi;
          size_t end = at + 1;
          for (; end < order.size(); end++) {
            const cv::Rect grown = band | need[order[end]].roi;
            if (double(grown.area()) / (double(d) * d) > kSharedRegionPx) break;
            band = grown;
          }
          View bv;
          try {
            bv.img = decode_jpeg_region(images[i].data, size_t(images[i].len), w.hdr, d, band, &bv.origin, &bv.scale);
          } catch (const Error&) {
            at = end;  // these faces keep the coarse view
            continue;
          }
          for (size_t j = at; j < end; j++) {
            const cv::Rect& q = need[order[j]].roi;
            const int x0 = int(std::floor((q.x - bv.origin.x) * bv.scale));
            const int y0 = int(std::floor((q.y - bv.origin.y) * bv.scale));
            const int x1 = int(std::ceil((q.x + q.width - bv.origin.x) * bv.scale));
            const int y1 = int(std::ceil((q.y + q.height - bv.origin.y) * bv.scale));
            const cv::Rect pr = cv::Rect(x0, y0, x1 - x0, y1 - y0) & cv::Rect(0, 0, bv.img.cols, bv.img.rows);
            if (pr.empty()) continue;
            View v;
            v.img = bv.img(pr).clone();
            v.origin = cv::Point2d(bv.origin.x + pr.x / bv.scale, bv.origin.y + pr.y / bv.scale);
            v.scale = bv.scale;
            fine_views.push_back(std::move(v));
            need[order[j]].view = &fine_views.back();
          }
          at = end;
        }
      }
      for (size_t k = 0; k < r.faces.size(); k++) {
        const View* fv = need[k].view;
        if (!fv) fv = &w.coarse;
        entries.push_back(Entry{&r.faces[k], fv, &w.coarse, cv::Size(r.width, r.height), i});
      }
      inject_fault("refine", r.width, r.height);
    } catch (...) {
      record_failure(r, "refine");
      entries.resize(first);
    }
    const double refine = ms_since(t0);
    r.t.decode += refine;
    r.t.total += refine;
  }

  // Batched stages: one pass over the faces of every image still OK. If a
  // pass throws, it is run again image by image, so that the failure lands
  // on the image that caused it and every other image completes.
  auto sub_of = [&](const std::vector<size_t>& idx) {
    Sub s;
    for (size_t k : idx) {
      const Entry& e = entries[k];
      s.faces.push_back(e.face);
      s.fine.push_back(e.fine);
      s.coarse.push_back(e.coarse);
      s.size.push_back(e.size);
    }
    return s;
  };
  auto run_stage = [&](const char* name, double vz_timings::*field, const std::function<void(Sub&)>& fn) {
    std::vector<size_t> live;
    for (size_t k = 0; k < entries.size(); k++)
      if (res[size_t(entries[k].image)].code == VZ_OK) live.push_back(k);
    if (live.empty()) return;
    if (cancelled(cancel)) {
      for (size_t k : live) mark_cancelled(res[size_t(entries[k].image)]);
      return;
    }
    const auto t = Clock::now();
    auto run = [&](const std::vector<size_t>& idx) {
      for (size_t k : idx) inject_fault(name, entries[k].size.width, entries[k].size.height);
      Sub s = sub_of(idx);
      fn(s);
    };
    try {
      run(live);
    } catch (...) {
      std::vector<int> imgs;
      for (size_t k : live)
        if (imgs.empty() || imgs.back() != entries[k].image) imgs.push_back(entries[k].image);
      if (imgs.size() == 1) {
        record_failure(res[size_t(imgs[0])], name);
      } else {
        for (int im : imgs) {
          std::vector<size_t> idx;
          for (size_t k : live)
            if (entries[k].image == im) idx.push_back(k);
          try {
            run(idx);
          } catch (...) {
            record_failure(res[size_t(im)], name);
          }
        }
      }
    }
    // Time is shared among images by face count.
    const double ms = ms_since(t) / double(live.size());
    for (size_t k : live) {
      res[size_t(entries[k].image)].t.*field += ms;
      res[size_t(entries[k].image)].t.total += ms;
    }
  };

  if (stages & VZ_STAGE_LANDMARKS)
    run_stage("landmarks", &vz_timings::landmarks,
              [&](Sub& s) { landmarks68(ns, *manifest_.find("landmarker"), s.fine, s.faces, s.size); });
  if (stages & (VZ_STAGE_TEMPLATE | VZ_STAGE_QUALITY))
    run_stage("align", &vz_timings::align, [&](Sub& s) {
      const ModelSpec& rec = *manifest_.find("recognizer");
      for (size_t k = 0; k < s.faces.size(); k++) align_face(*s.fine[k], *s.faces[k], rec);
      if (const char* dd = std::getenv("VIZOR_DEBUG_ALIGN_DIR"))
        for (size_t k = 0; k < s.faces.size(); k++) {
          static std::atomic<int> seq{0};
          const std::string stem = std::string(dd) + "/c" + std::to_string(seq++) + "_face" + std::to_string(k);
          cv::Mat vis = s.fine[k]->img.clone();
          for (int j = 0; j < 68; j++) cv::circle(vis, s.fine[k]->to_img(s.faces[k]->lm68[j]), 2, cv::Scalar(0, 255, 0), -1);
          for (int j = 0; j < 5; j++) cv::circle(vis, s.fine[k]->to_img(s.faces[k]->lm5[j]), 3, cv::Scalar(0, 0, 255), -1);
          cv::imwrite(stem + "_aligned.png", s.faces[k]->aligned);
          cv::imwrite(stem + "_view.png", vis);
        }
    });
  if (stages & VZ_STAGE_TEMPLATE)
    run_stage("embed", &vz_timings::embed,
              [&](Sub& s) { embed(ns, *manifest_.find("recognizer"), s.faces, template_dim_); });
  if ((stages & VZ_STAGE_LIVENESS) && ns.has[R_LIVENESS])
    run_stage("liveness", &vz_timings::liveness,
              [&](Sub& s) { liveness(ns, *manifest_.find("liveness"), s.coarse, s.faces, s.size); });
  if (stages & VZ_STAGE_ATTRIBUTES)
    run_stage("attributes", &vz_timings::attributes, [&](Sub& s) {
      attributes(ns, manifest_, attrs, s.coarse, s.faces, s.size);
      // Eye crops are small: take them from the fine views.
      if ((attrs & VZ_ATTR_EYES) && ns.has[R_EYE]) eyes_open(ns, *manifest_.find("eye"), s.fine, s.faces);
    });
  if (stages & VZ_STAGE_QUALITY)
    run_stage("quality", &vz_timings::quality, [&](Sub& s) {
      if (ns.has[R_EYE] && !(attrs & VZ_ATTR_EYES)) eyes_open(ns, *manifest_.find("eye"), s.fine, s.faces);
      for (auto* f : s.faces) {
        landmark_pose(*f);
        quality(*f, thr);
      }
      if (!(attrs & VZ_ATTR_EYES))
        for (auto* f : s.faces) f->attr.left_eye_open = f->attr.right_eye_open = -1;
    });
  // A failed image carries no faces (they may be half-computed).
  for (auto& r : res)
    if (r.code != VZ_OK) r.faces.clear();
  return res;
}

}  // namespace vz
