// Tests of the C ABI (vizor_c.h): engine lifecycle, argument checks, typed
// image errors, face counts, template stability, concurrency.
#include <unistd.h>

#include <atomic>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "harness.h"

namespace {

vz_engine* g_engine = nullptr;

vz_engine* engine() {
  if (g_engine) return g_engine;
  std::string dir = th::models_dir();
  std::ifstream probe(dir + "/fr_detect.onnx");
  if (!probe) throw th::Skip{"models not found in " + dir + " (run make models)"};
  vz_engine_config cfg{};
  cfg.models_dir = dir.c_str();
  cfg.workers = 2;
  cfg.threads_per_worker = 1;
  vz_status s = vz_Engine_Create(&cfg, &g_engine);
  if (s.code != VZ_OK) {
    std::string m = s.message ? s.message : "";
    vz_Status_Free(&s);
    throw std::runtime_error("engine create failed: " + m);
  }
  return g_engine;
}

struct Result {
  vz_batch_result* r = nullptr;
  ~Result() { vz_BatchResult_Free(r); }
  const vz_image_result& operator[](int i) const { return r->images[i]; }
};

void analyze(const std::vector<const std::vector<uint8_t>*>& imgs, Result& out, const vz_analyze_options* opt = nullptr) {
  std::vector<vz_image> v;
  for (auto* b : imgs) v.push_back(vz_image{b->empty() ? nullptr : b->data(), int64_t(b->size())});
  vz_status s = vz_Engine_Analyze(engine(), v.data(), int32_t(v.size()), opt, &out.r);
  CHECK_CODE(s, VZ_OK);
  if (!out.r) throw std::runtime_error("analyze returned no result");
}

int image_code(const std::vector<uint8_t>& bytes) {
  Result r;
  analyze({&bytes}, r);
  if (r[0].code != VZ_OK && r[0].message[0] == 0) {
    th::failures()++;
    std::printf("  image error %d without a message\n", r[0].code);
  }
  if (r[0].code != VZ_OK && (r[0].num_faces != 0 || r[0].faces != nullptr)) {
    th::failures()++;
    std::printf("  failed image carries faces\n");
  }
  return r[0].code;
}

float cosine(const vz_face& a, const vz_face& b) {
  if (!a.template_data || !b.template_data || a.template_dim != b.template_dim) return -2;
  double s = 0;
  for (int i = 0; i < a.template_dim; i++) s += double(a.template_data[i]) * b.template_data[i];
  return float(s);
}

std::vector<uint8_t> encode(const cv::Mat& m, const char* ext) {
  std::vector<uint8_t> b;
  cv::imencode(ext, m, b);
  return b;
}

std::vector<uint8_t> probe_jpeg() { return th::read_file(th::shared_data() + "/probe-640x480.jpg"); }

// ---------------------------------------------------------------- engine

TEST(engine_create_info) {
  vz_engine_info info;
  CHECK_CODE(vz_Engine_Info(engine(), &info), VZ_OK);
  CHECK(info.abi_version == VZ_ABI_VERSION);
  CHECK(std::string(info.backend) == "cpu");
  CHECK(info.template_dim == 512);
  // The manifest's id, '@', 8 hex digits of the preprocessing digest.
  CHECK(std::string(info.recognizer_id).rfind("faceplugin-fr_feature-512@", 0) == 0);
  CHECK(std::strlen(info.recognizer_id) == 26 + 8);
  CHECK(info.workers == 2);
  CHECK(info.num_models == 9);
  for (int i = 0; i < info.num_models; i++) {
    CHECK(info.models[i].loaded == 1);
    CHECK(std::strlen(info.models[i].sha256) == 64);
    CHECK(info.models[i].input_w > 0 && info.models[i].input_h > 0);
  }
  CHECK(std::string(info.opencv_version).rfind("4.", 0) == 0);
}

TEST(engine_create_destroy_verified) {
  engine();  // skip without models
  std::string dir = th::models_dir();
  vz_engine_config cfg{};
  cfg.models_dir = dir.c_str();
  cfg.workers = 1;
  cfg.verify_checksums = 1;
  vz_engine* e = nullptr;
  CHECK_CODE(vz_Engine_Create(&cfg, &e), VZ_OK);
  CHECK(e != nullptr);
  vz_Engine_Destroy(e);
  vz_Engine_Destroy(nullptr);  // no-op
}

TEST(engine_bad_args) {
  vz_engine* e = reinterpret_cast<vz_engine*>(0x1);
  CHECK_CODE(vz_Engine_Create(nullptr, &e), VZ_ERR_INVALID_ARGUMENT);
  CHECK(e == nullptr);
  vz_engine_config cfg{};
  CHECK_CODE(vz_Engine_Create(&cfg, &e), VZ_ERR_INVALID_ARGUMENT);  // no models_dir
  cfg.models_dir = "/nonexistent/vizor-models";
  CHECK_CODE(vz_Engine_Create(&cfg, nullptr), VZ_ERR_INVALID_ARGUMENT);
  CHECK_CODE(vz_Engine_Create(&cfg, &e), VZ_ERR_MODEL);
  CHECK(e == nullptr);
  std::string dir = th::models_dir();
  cfg.models_dir = dir.c_str();
  cfg.workers = -1;
  CHECK_CODE(vz_Engine_Create(&cfg, &e), VZ_ERR_INVALID_ARGUMENT);
  cfg.workers = 1;
  cfg.backend = "tpu";
  CHECK_CODE(vz_Engine_Create(&cfg, &e), VZ_ERR_INVALID_ARGUMENT);
  cfg.backend = "cpu";
  cfg.precision = "fp16";
  CHECK_CODE(vz_Engine_Create(&cfg, &e), VZ_ERR_INVALID_ARGUMENT);
  cfg.precision = nullptr;
  cfg.manifest_path = "/nonexistent/manifest.json";
  CHECK_CODE(vz_Engine_Create(&cfg, &e), VZ_ERR_MODEL);
  vz_engine_info info;
  CHECK_CODE(vz_Engine_Info(nullptr, &info), VZ_ERR_INVALID_ARGUMENT);
  vz_batch_result* r = nullptr;
  CHECK_CODE(vz_Engine_Analyze(nullptr, nullptr, 0, nullptr, &r), VZ_ERR_INVALID_ARGUMENT);
  vz_BatchResult_Free(nullptr);
  vz_Status_Free(nullptr);
}

TEST(engine_cuda_backend_typed_error) {
  engine();
  std::string dir = th::models_dir();
  vz_engine_config cfg{};
  cfg.models_dir = dir.c_str();
  cfg.workers = 1;
  cfg.backend = "cuda";
  vz_engine* e = nullptr;
  vz_status s = vz_Engine_Create(&cfg, &e);
  // On this CPU build (or a host without a GPU) CUDA must be refused with a
  // typed error and a reason; where it works, info must say so.
  if (s.code == VZ_OK) {
    vz_engine_info info;
    CHECK_CODE(vz_Engine_Info(e, &info), VZ_OK);
    CHECK(std::string(info.backend).rfind("cuda", 0) == 0);
    vz_Engine_Destroy(e);
  } else {
    CHECK(s.code == VZ_ERR_BACKEND);
    CHECK(s.message && std::strstr(s.message, "CUDA") != nullptr);
  }
  vz_Status_Free(&s);
}

TEST(engine_bad_checksum) {
  engine();
  std::string dir = th::models_dir();
  // A copy of the manifest with one sha256 changed.
  std::ifstream in(dir + "/manifest.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string good = "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854";
  size_t at = text.find(good);
  CHECK(at != std::string::npos);
  if (at == std::string::npos) return;
  text.replace(at, good.size(), std::string(64, '0'));
  std::string path = "/tmp/vizor_test_badsha_" + std::to_string(::getpid()) + ".json";
  std::ofstream(path) << text;
  vz_engine_config cfg{};
  cfg.models_dir = dir.c_str();
  cfg.manifest_path = path.c_str();
  cfg.workers = 1;
  cfg.verify_checksums = 1;
  vz_engine* e = nullptr;
  vz_status s = vz_Engine_Create(&cfg, &e);
  CHECK(s.code == VZ_ERR_MODEL);
  CHECK(s.message && std::strstr(s.message, "sha256") != nullptr);
  CHECK(e == nullptr);
  vz_Status_Free(&s);
  cfg.verify_checksums = 0;  // not verified: loads
  CHECK_CODE(vz_Engine_Create(&cfg, &e), VZ_OK);
  vz_Engine_Destroy(e);
  std::remove(path.c_str());
}

// ---------------------------------------------------------------- images

TEST(images_bad_inputs) {
  const std::vector<uint8_t> empty;
  CHECK(image_code(empty) == VZ_ERR_DECODE);

  std::vector<uint8_t> jpg = probe_jpeg();
  std::vector<uint8_t> trunc(jpg.begin(), jpg.begin() + long(jpg.size() * 6 / 10));
  CHECK(image_code(trunc) == VZ_ERR_DECODE);
  std::vector<uint8_t> hdr_only(jpg.begin(), jpg.begin() + 200);
  CHECK(image_code(hdr_only) == VZ_ERR_DECODE);

  std::vector<uint8_t> rnd(4096);
  uint32_t x = 12345;
  for (auto& b : rnd) { x = x * 1664525u + 1013904223u; b = uint8_t(x >> 24); }
  CHECK(image_code(rnd) == VZ_ERR_DECODE);
  // Random bytes after a JPEG signature.
  std::vector<uint8_t> rj = rnd;
  rj[0] = 0xFF; rj[1] = 0xD8; rj[2] = 0xFF;
  CHECK(image_code(rj) == VZ_ERR_DECODE);

  cv::Mat one(1, 1, CV_8UC3, cv::Scalar(10, 20, 30));
  CHECK(image_code(encode(one, ".png")) == VZ_ERR_TOO_SMALL);

  // A blank but valid image: no face.
  cv::Mat grey(240, 320, CV_8UC3, cv::Scalar(128, 128, 128));
  CHECK(image_code(encode(grey, ".png")) == VZ_ERR_NO_FACE);
  CHECK(image_code(encode(grey, ".bmp")) == VZ_ERR_NO_FACE);
  CHECK(image_code(encode(grey, ".webp")) == VZ_ERR_NO_FACE);
  CHECK(image_code(encode(grey, ".tiff")) == VZ_ERR_NO_FACE);
}

std::vector<uint8_t> jpeg_header(int w, int h) {
  // SOI, SOF0 declaring w x h with 3 components, then EOI.
  return {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, uint8_t(h >> 8), uint8_t(h), uint8_t(w >> 8), uint8_t(w),
          0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xFF, 0xD9};
}
std::vector<uint8_t> png_header(uint32_t w, uint32_t h) {
  std::vector<uint8_t> b = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(w >> s));
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(h >> s));
  for (uint8_t v : {8, 2, 0, 0, 0, 0, 0, 0, 0}) b.push_back(v);  // depth, colour, ..., crc
  return b;
}
std::vector<uint8_t> gif_100_frames() {
  std::vector<uint8_t> b = {'G', 'I', 'F', '8', '9', 'a', 64, 0, 64, 0, 0x80, 0, 0};
  for (int i = 0; i < 6; i++) b.push_back(uint8_t(i * 40));  // 2-entry global palette
  for (int f = 0; f < 100; f++) {
    for (uint8_t v : {0x21, 0xF9, 4, 0, 10, 0, 0, 0}) b.push_back(v);           // graphic control
    for (uint8_t v : {0x2C, 0, 0, 0, 0, 64, 0, 64, 0, 0}) b.push_back(v);       // image descriptor
    for (uint8_t v : {2, 2, 0x4C, 0x01, 0}) b.push_back(v);                     // LZW data
  }
  b.push_back(0x3B);
  return b;
}

TEST(images_limits_before_allocation) {
  // 30000 x 30000 = 900 MP declared: refused from the header alone.
  CHECK(image_code(jpeg_header(30000, 30000)) == VZ_ERR_TOO_LARGE);
  CHECK(image_code(png_header(30000, 30000)) == VZ_ERR_TOO_LARGE);
  CHECK(image_code(gif_100_frames()) == VZ_ERR_UNSUPPORTED);
  // The configured byte limit.
  std::string dir = th::models_dir();
  vz_engine_config cfg{};
  cfg.models_dir = dir.c_str();
  cfg.workers = 1;
  cfg.max_bytes = 1000;
  cfg.max_pixels = 100000;
  vz_engine* e = nullptr;
  CHECK_CODE(vz_Engine_Create(&cfg, &e), VZ_OK);
  if (!e) return;
  std::vector<uint8_t> jpg = probe_jpeg();
  cv::Mat small(200, 300, CV_8UC3, cv::Scalar(0, 0, 0));  // 60000 px, small file
  std::vector<uint8_t> png = encode(small, ".png");
  cv::Mat big(400, 300, CV_8UC3, cv::Scalar(0, 0, 0));  // 120000 px
  std::vector<uint8_t> bigpng = encode(big, ".png");
  vz_image ims[3] = {{jpg.data(), int64_t(jpg.size())}, {png.data(), int64_t(png.size())},
                     {bigpng.data(), int64_t(bigpng.size())}};
  vz_batch_result* r = nullptr;
  CHECK_CODE(vz_Engine_Analyze(e, ims, 3, nullptr, &r), VZ_OK);
  if (r) {
    CHECK(r->count == 3);
    CHECK(r->images[0].code == VZ_ERR_TOO_LARGE);  // bytes
    CHECK(r->images[1].code == VZ_ERR_NO_FACE);
    CHECK(r->images[2].code == VZ_ERR_TOO_LARGE);  // pixels
  }
  vz_BatchResult_Free(r);
  vz_Engine_Destroy(e);
}

TEST(images_probe) {
  char fmt[16];
  int32_t w = 0, h = 0;
  std::vector<uint8_t> jpg = probe_jpeg();
  CHECK_CODE(vz_Image_Probe(jpg.data(), int64_t(jpg.size()), fmt, &w, &h), VZ_OK);
  CHECK(std::string(fmt) == "jpeg" && w == 640 && h == 480);
  auto j = jpeg_header(30000, 30000);
  CHECK_CODE(vz_Image_Probe(j.data(), int64_t(j.size()), fmt, &w, &h), VZ_OK);
  CHECK(w == 30000 && h == 30000);
  auto g = gif_100_frames();
  CHECK_CODE(vz_Image_Probe(g.data(), int64_t(g.size()), fmt, &w, &h), VZ_OK);
  CHECK(std::string(fmt) == "gif" && w == 64 && h == 64);
  cv::Mat m(37, 53, CV_8UC3, cv::Scalar(1, 2, 3));
  for (const char* ext : {".png", ".bmp", ".webp", ".tiff"}) {
    auto b = encode(m, ext);
    CHECK_CODE(vz_Image_Probe(b.data(), int64_t(b.size()), fmt, &w, &h), VZ_OK);
    CHECK(w == 53 && h == 37);
    CHECK(std::string(".") + fmt == ext);
  }
  uint8_t junk[5] = {1, 2, 3, 4, 5};
  CHECK_CODE(vz_Image_Probe(junk, 5, fmt, &w, &h), VZ_ERR_DECODE);
  CHECK_CODE(vz_Image_Probe(nullptr, 0, fmt, &w, &h), VZ_ERR_DECODE);
  CHECK_CODE(vz_Image_Probe(nullptr, 10, fmt, &w, &h), VZ_ERR_INVALID_ARGUMENT);
}

TEST(images_exif_orientation) {
  std::vector<uint8_t> jpg = probe_jpeg();
  cv::Mat img = cv::imdecode(jpg, cv::IMREAD_COLOR);
  // Store the picture turned 90 degrees counter-clockwise, with EXIF
  // orientation 6 ("rotate 90 CW to display").
  cv::Mat stored;
  cv::rotate(img, stored, cv::ROTATE_90_COUNTERCLOCKWISE);
  std::vector<uint8_t> enc;
  cv::imencode(".jpg", stored, enc, {cv::IMWRITE_JPEG_QUALITY, 95});
  const uint8_t app1[] = {0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8,
                          0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0};
  std::vector<uint8_t> withexif;
  withexif.reserve(enc.size() + sizeof(app1));
  for (size_t i = 0; i < enc.size(); i++) {
    withexif.push_back(enc[i]);
    if (i == 1)
      for (uint8_t v : app1) withexif.push_back(v);  // right after SOI
  }
  Result r;
  analyze({&jpg, &withexif}, r);
  CHECK(r[1].code == VZ_OK);
  CHECK(r[1].width == 640 && r[1].height == 480);
  if (r[0].num_faces == 1 && r[1].num_faces == 1) {
    const vz_face &a = r[0].faces[0], &b = r[1].faces[0];
    CHECK(std::fabs((a.x + a.w / 2) - (b.x + b.w / 2)) < 12);
    CHECK(std::fabs((a.y + a.h / 2) - (b.y + b.h / 2)) < 12);
    CHECK(cosine(a, b) > 0.9f);
  } else {
    CHECK(false);
  }
}

// ---------------------------------------------------------------- faces

TEST(faces_counts) {
  struct Want {
    const char* file;
    int faces;
  } wants[] = {{"pristin.jpg", 10}, {"jimin.jpg", 1}, {"jimin4.jpg", 2}, {"chaeyeon.jpg", 1}};
  std::vector<std::vector<uint8_t>> bytes;
  for (auto& w : wants) bytes.push_back(th::face(w.file));
  std::vector<const std::vector<uint8_t>*> ptrs;
  for (auto& b : bytes) ptrs.push_back(&b);
  Result r;
  analyze(ptrs, r);
  CHECK(r.r->count == 4);
  for (int i = 0; i < 4; i++) {
    CHECK(r[i].code == VZ_OK);
    if (r[i].num_faces != wants[i].faces)
      std::printf("  %s: %d faces, want %d\n", wants[i].file, r[i].num_faces, wants[i].faces);
    CHECK(r[i].num_faces == wants[i].faces);
    for (int k = 0; k < r[i].num_faces; k++) {
      const vz_face& f = r[i].faces[k];
      CHECK(f.det_score >= 0.9f && f.det_score <= 1.f);
      CHECK(f.x >= 0 && f.y >= 0 && f.x + f.w <= r[i].width && f.y + f.h <= r[i].height);
      CHECK(f.template_dim == 512 && f.template_data != nullptr);
      CHECK(f.liveness >= 0 && f.liveness <= 1);
      CHECK(f.quality.score >= 0 && f.quality.score <= 1);
      CHECK(f.attributes.age < 0 && f.attributes.gender == -1 && std::isnan(f.attributes.yaw));
      if (k > 0) CHECK(f.w * f.h <= r[i].faces[k - 1].w * r[i].faces[k - 1].h);  // largest first
    }
    CHECK(r[i].timings.total > 0 && r[i].timings.decode > 0 && r[i].timings.detect > 0 && r[i].timings.embed > 0);
  }
  CHECK(r[0].width == 2100 && r[0].height == 1040);
  CHECK(r[3].width == 2667 && r[3].height == 4000);  // EXIF orientation applied
  // max_faces keeps the largest.
  vz_analyze_options o{};
  o.max_faces = 3;
  o.stages = VZ_STAGE_DETECT;
  Result r2;
  analyze({&bytes[0]}, r2, &o);
  CHECK(r2[0].num_faces == 3);
  CHECK(r2[0].faces[0].template_data == nullptr && r2[0].faces[0].liveness < 0 && r2[0].faces[0].quality.score < 0);
}

TEST(faces_same_image_twice) {
  std::vector<uint8_t> jpg = probe_jpeg();
  std::vector<uint8_t> luda = th::face("luda.jpg");
  std::vector<uint8_t> other = th::face("tzuyu.jpg");
  Result r;
  analyze({&jpg, &jpg, &luda, &other}, r);
  for (int i = 0; i < 4; i++) CHECK(r[i].code == VZ_OK && r[i].num_faces == 1);
  if (r[0].num_faces < 1 || r[1].num_faces < 1 || r[2].num_faces < 1 || r[3].num_faces < 1) return;
  float same = cosine(r[0].faces[0], r[1].faces[0]);
  float crop = cosine(r[0].faces[0], r[2].faces[0]);  // the probe is a crop of luda.jpg
  float diff = cosine(r[0].faces[0], r[3].faces[0]);
  std::printf("  cos same %.4f crop %.4f other %.4f\n", same, crop, diff);
  CHECK(same > 0.99f);
  CHECK(crop > 0.8f);
  CHECK(diff < 0.4f);
  // L2 normalised.
  double n = 0;
  for (int i = 0; i < 512; i++) n += double(r[0].faces[0].template_data[i]) * r[0].faces[0].template_data[i];
  CHECK(std::fabs(n - 1.0) < 1e-3);
  // 5 points: eyes above nose above mouth, image-left eye first.
  const float* p = r[0].faces[0].landmarks5;
  CHECK(p[0] < p[2] && p[6] < p[8]);
  CHECK(p[1] < p[5] && p[3] < p[5] && p[5] < p[7] && p[5] < p[9]);
}

// The probe re-encoded in every supported container (lossless ones hold the
// JPEG's decoded pixels exactly): one face each, the same template.
TEST(faces_every_format) {
  std::vector<uint8_t> jpg = probe_jpeg();
  cv::Mat px = cv::imdecode(jpg, cv::IMREAD_COLOR);
  std::vector<std::vector<uint8_t>> enc;
  for (const char* ext : {".png", ".bmp", ".tiff"}) enc.push_back(encode(px, ext));
  std::vector<uint8_t> webp;
  cv::imencode(".webp", px, webp, {cv::IMWRITE_WEBP_QUALITY, 101});  // > 100: lossless
  enc.push_back(webp);
  std::vector<const std::vector<uint8_t>*> in = {&jpg};
  for (auto& e : enc) in.push_back(&e);
  Result r;
  analyze(in, r);
  for (size_t i = 0; i < in.size(); i++) {
    CHECK(r[int(i)].code == VZ_OK && r[int(i)].num_faces == 1);
    if (r[int(i)].num_faces != 1 || r[0].num_faces != 1) continue;
    float c = cosine(r[0].faces[0], r[int(i)].faces[0]);
    std::printf("  format %zu: cos to the JPEG %.4f\n", i, c);
    CHECK(c > 0.99f);
  }
}

TEST(faces_quality_profile_and_attributes) {
  std::vector<uint8_t> profile = th::face("jimin3.jpg");
  std::vector<uint8_t> frontal = th::face("tzuyu.jpg");
  vz_analyze_options o{};
  o.stages = VZ_STAGE_ALL;
  o.attributes = VZ_ATTR_ALL;
  Result r;
  analyze({&profile, &frontal}, r, &o);
  CHECK(r[0].num_faces == 1 && r[1].num_faces == 1);
  if (r[0].num_faces != 1 || r[1].num_faces != 1) return;
  const vz_face &p = r[0].faces[0], &f = r[1].faces[0];
  std::printf("  quality profile %.2f frontal %.2f; yaw %.1f vs %.1f\n", p.quality.score, f.quality.score,
              p.attributes.yaw, f.attributes.yaw);
  CHECK(p.quality.score + 0.3f < f.quality.score);
  CHECK(p.quality.pose < 0.2f);
  CHECK(std::fabs(p.attributes.yaw) > 45.f);
  CHECK(std::fabs(f.attributes.yaw) < 20.f);
  CHECK(f.attributes.age > 10 && f.attributes.age < 60);
  CHECK(f.attributes.gender == 0 || f.attributes.gender == 1);
  CHECK(f.attributes.expression >= 0 && f.attributes.expression < VZ_EXPRESSIONS);
  CHECK(f.attributes.left_eye_open > 0.5f && f.attributes.right_eye_open > 0.5f);
  CHECK(f.liveness > 0.5f);
  CHECK(r[1].timings.attributes > 0 && r[1].timings.quality > 0);
}

TEST(faces_concurrent_calls) {
  std::vector<uint8_t> jpg = probe_jpeg();
  Result ref;
  analyze({&jpg}, ref);
  if (ref[0].num_faces != 1) {
    CHECK(false);
    return;
  }
  std::vector<float> want(ref[0].faces[0].template_data, ref[0].faces[0].template_data + 512);
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; t++)
    ts.emplace_back([&] {
      for (int i = 0; i < 3; i++) {
        vz_image im{jpg.data(), int64_t(jpg.size())};
        vz_batch_result* r = nullptr;
        vz_status s = vz_Engine_Analyze(engine(), &im, 1, nullptr, &r);
        if (s.code != VZ_OK || !r || r->images[0].num_faces != 1) {
          bad++;
        } else {
          double c = 0;
          for (int k = 0; k < 512; k++) c += double(want[size_t(k)]) * r->images[0].faces[0].template_data[k];
          if (c < 0.9999) bad++;
        }
        vz_Status_Free(&s);
        vz_BatchResult_Free(r);
      }
    });
  for (auto& t : ts) t.join();
  CHECK(bad == 0);
}

TEST(faces_bad_options) {
  std::vector<uint8_t> jpg = probe_jpeg();
  vz_image im{jpg.data(), int64_t(jpg.size())};
  vz_batch_result* r = nullptr;
  vz_analyze_options o{};
  CHECK_CODE(vz_Engine_Analyze(engine(), &im, 1, &o, nullptr), VZ_ERR_INVALID_ARGUMENT);
  CHECK_CODE(vz_Engine_Analyze(engine(), nullptr, 1, &o, &r), VZ_ERR_INVALID_ARGUMENT);
  CHECK_CODE(vz_Engine_Analyze(engine(), &im, -1, &o, &r), VZ_ERR_INVALID_ARGUMENT);
  o.stages = 0x400;
  CHECK_CODE(vz_Engine_Analyze(engine(), &im, 1, &o, &r), VZ_ERR_INVALID_ARGUMENT);
  o = vz_analyze_options{};
  o.det_threshold = 1.5f;
  CHECK_CODE(vz_Engine_Analyze(engine(), &im, 1, &o, &r), VZ_ERR_INVALID_ARGUMENT);
  CHECK(r == nullptr);
  o = vz_analyze_options{};
  CHECK_CODE(vz_Engine_Analyze(engine(), &im, 0, &o, &r), VZ_OK);
  CHECK(r && r->count == 0);
  vz_BatchResult_Free(r);
  r = nullptr;
  // A NULL image pointer with a length is a per-image error, not a crash.
  vz_image two[2] = {{nullptr, 10}, {jpg.data(), int64_t(jpg.size())}};
  CHECK_CODE(vz_Engine_Analyze(engine(), two, 2, nullptr, &r), VZ_OK);
  if (r) {
    CHECK(r->images[0].code == VZ_ERR_INVALID_ARGUMENT);
    CHECK(r->images[1].code == VZ_OK);
  }
  vz_BatchResult_Free(r);
}

}  // namespace

int main(int argc, char** argv) {
  int rc = th::run(argc, argv);
  vz_Engine_Destroy(g_engine);
  return rc;
}
