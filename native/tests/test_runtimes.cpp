// The two inference runtimes agree: every net of models/manifest.json run on
// OpenCV DNN and then on ONNX Runtime ("runtime" rewritten for every model),
// over every shared test photo. Templates agree to cosine >= 0.9999, boxes
// and landmarks to 0.5 px (issue 14), and PAD and attribute scores closely.
// Also: the manifest's runtime field is checked, and a mixed manifest (the
// shipped one) loads.
#include <unistd.h>

#include <algorithm>
#include <dirent.h>
#include <sstream>

#include "harness.h"

namespace {

std::string read_text(const std::string& p) {
  std::vector<uint8_t> b = th::read_file(p);
  return std::string(b.begin(), b.end());
}

// The shipped manifest with every model's runtime set to `rt`: any
// "runtime" key is dropped, then one goes in front of each "role".
std::string manifest_with_runtime(const std::string& rt) {
  std::string text = read_text(th::models_dir() + "/manifest.json");
  for (size_t at; (at = text.find("\"runtime\":")) != std::string::npos;) {
    size_t q1 = text.find('"', at + 10), q2 = q1 == std::string::npos ? q1 : text.find('"', q1 + 1);
    if (q2 == std::string::npos) throw th::Skip{"unexpected runtime field in manifest.json"};
    size_t end = q2 + 1;
    while (end < text.size() && (text[end] == ' ' || text[end] == ',')) end++;
    text.erase(at, end - at);
  }
  const std::string key = "\"role\"", ins = "\"runtime\": \"" + rt + "\", ";
  for (size_t at = 0; (at = text.find(key, at)) != std::string::npos; at += ins.size() + key.size())
    text.insert(at, ins);
  std::string path = "/tmp/vizor_test_runtime_" + std::to_string(::getpid()) + "_" + rt + ".json";
  std::ofstream(path) << text;
  return path;
}

vz_engine* open_engine(const std::string& manifest, int threads, vz_status* st) {
  static std::string dir;
  dir = th::models_dir();
  vz_engine_config cfg{};
  cfg.models_dir = dir.c_str();
  cfg.manifest_path = manifest.c_str();
  cfg.workers = 1;
  cfg.threads_per_worker = threads;
  vz_engine* e = nullptr;
  *st = vz_Engine_Create(&cfg, &e);
  return e;
}

std::vector<std::string> photos() {
  std::vector<std::string> out;
  const std::string dir = th::shared_data() + "/faces";
  DIR* d = opendir(dir.c_str());
  if (!d) throw th::Skip{"missing " + dir};
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    std::string low = n;
    std::transform(low.begin(), low.end(), low.begin(), ::tolower);
    if (low.size() > 4 && (low.rfind(".jpg") == low.size() - 4 || low.rfind(".png") == low.size() - 4 ||
                           low.rfind(".jpeg") == low.size() - 5 || low.rfind(".webp") == low.size() - 5))
      out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  if (out.empty()) throw th::Skip{"no photos in " + dir};
  return out;
}

struct MaxDiff {
  double box = 0, lm68 = 0, lm5 = 0, cos_min = 1, live = 0, age = 0, gender = 0, expr = 0, eyes = 0;
  int faces = 0;
};

void compare(const vz_face& a, const vz_face& b, MaxDiff& m, const std::string& where) {
  auto upd = [](double& mx, double v) { mx = std::max(mx, v); };
  upd(m.box, std::max({std::fabs(a.x - b.x), std::fabs(a.y - b.y), std::fabs(a.w - b.w), std::fabs(a.h - b.h)}));
  for (int k = 0; k < VZ_LANDMARKS68 * 2; k++) upd(m.lm68, std::fabs(a.landmarks68[k] - b.landmarks68[k]));
  for (int k = 0; k < VZ_LANDMARKS5 * 2; k++) upd(m.lm5, std::fabs(a.landmarks5[k] - b.landmarks5[k]));
  CHECK(a.template_data && b.template_data && a.template_dim == b.template_dim);
  if (a.template_data && b.template_data && a.template_dim == b.template_dim) {
    double s = 0;
    for (int k = 0; k < a.template_dim; k++) s += double(a.template_data[k]) * b.template_data[k];
    if (s < m.cos_min) m.cos_min = s;
    if (s < 0.9999) std::printf("  %s: template cosine %.6f\n", where.c_str(), s);
  }
  CHECK(a.liveness_status == b.liveness_status);
  if (a.liveness_status == VZ_LIVENESS_SCORED) upd(m.live, std::fabs(a.liveness - b.liveness));
  upd(m.age, std::fabs(a.attributes.age - b.attributes.age));
  CHECK(a.attributes.gender == b.attributes.gender || std::fabs(a.attributes.gender_score - 0.5f) < 0.01f);
  upd(m.gender, std::fabs(a.attributes.gender_score - b.attributes.gender_score));
  for (int k = 0; k < VZ_EXPRESSIONS; k++)
    upd(m.expr, std::fabs(a.attributes.expression_scores[k] - b.attributes.expression_scores[k]));
  upd(m.eyes, std::max(std::fabs(a.attributes.left_eye_open - b.attributes.left_eye_open),
                       std::fabs(a.attributes.right_eye_open - b.attributes.right_eye_open)));
  m.faces++;
}

TEST(runtimes_agree_on_shared_photos) {
  std::vector<std::string> names = photos();
  const std::string m_cv = manifest_with_runtime("opencv"), m_ort = manifest_with_runtime("ort");
  vz_status s1, s2;
  vz_engine* cv_e = open_engine(m_cv, 2, &s1);
  vz_engine* ort_e = open_engine(m_ort, 2, &s2);
  CHECK_CODE(s1, VZ_OK);
  CHECK_CODE(s2, VZ_OK);
  MaxDiff m;
  if (cv_e && ort_e) {
    vz_analyze_options opt{};
    opt.stages = VZ_STAGE_ALL;
    opt.attributes = VZ_ATTR_ALL;
    for (auto& n : names) {
      std::vector<uint8_t> img = th::face(n);
      vz_image im{img.data(), int64_t(img.size())};
      vz_batch_result *ra = nullptr, *rb = nullptr;
      vz_status sa = vz_Engine_Analyze(cv_e, &im, 1, &opt, &ra);
      vz_status sb = vz_Engine_Analyze(ort_e, &im, 1, &opt, &rb);
      CHECK_CODE(sa, VZ_OK);
      CHECK_CODE(sb, VZ_OK);
      if (ra && rb) {
        const vz_image_result &a = ra->images[0], &b = rb->images[0];
        CHECK(a.code == b.code);
        CHECK(a.num_faces == b.num_faces);
        if (a.num_faces != b.num_faces) std::printf("  %s: %d faces vs %d\n", n.c_str(), a.num_faces, b.num_faces);
        for (int i = 0; i < std::min(a.num_faces, b.num_faces); i++)
          compare(a.faces[i], b.faces[i], m, n + " face " + std::to_string(i));
      }
      vz_BatchResult_Free(ra);
      vz_BatchResult_Free(rb);
    }
  }
  std::printf("  %d faces; max |diff|: box %.2g px, landmarks68 %.2g px, landmarks5 %.2g px; min template cosine %.6f; "
              "PAD %.4f, age %.3f y, gender score %.4f, expression %.4f, eyes %.4f\n",
              m.faces, m.box, m.lm68, m.lm5, m.cos_min, m.live, m.age, m.gender, m.expr, m.eyes);
  CHECK(m.faces >= 30);
  CHECK(m.box <= 0.5);
  CHECK(m.lm68 <= 0.5);
  CHECK(m.lm5 <= 0.5);
  CHECK(m.cos_min >= 0.9999);
  CHECK(m.live <= 0.01);
  CHECK(m.age <= 0.5);
  CHECK(m.gender <= 0.01);
  CHECK(m.expr <= 0.01);
  CHECK(m.eyes <= 0.01);
  vz_Engine_Destroy(cv_e);
  vz_Engine_Destroy(ort_e);
  ::unlink(m_cv.c_str());
  ::unlink(m_ort.c_str());
}

TEST(runtimes_manifest_field) {
  // An unknown runtime is a model error that names the field.
  const std::string bad = manifest_with_runtime("tensorrt");
  vz_status s;
  vz_engine* e = open_engine(bad, 1, &s);
  CHECK(e == nullptr);
  CHECK(s.code == VZ_ERR_MODEL);
  CHECK(s.message && std::strstr(s.message, "runtime") && std::strstr(s.message, "tensorrt"));
  vz_Status_Free(&s);
  vz_Engine_Destroy(e);
  ::unlink(bad.c_str());
  // The shipped manifest (each net on the runtime measured faster) loads and
  // finds the probe's face.
  const std::string shipped = th::models_dir() + "/manifest.json";
  e = open_engine(shipped, 1, &s);
  CHECK_CODE(s, VZ_OK);
  if (e) {
    std::vector<uint8_t> img = th::read_file(th::shared_data() + "/probe-640x480.jpg");
    vz_image im{img.data(), int64_t(img.size())};
    vz_batch_result* r = nullptr;
    vz_status sa = vz_Engine_Analyze(e, &im, 1, nullptr, &r);
    CHECK_CODE(sa, VZ_OK);
    CHECK(r && r->images[0].code == VZ_OK && r->images[0].num_faces >= 1);
    vz_BatchResult_Free(r);
  }
  vz_Engine_Destroy(e);
}

}  // namespace

int main(int argc, char** argv) { return th::run(argc, argv); }
