// vz_bench: latency/throughput of the C ABI, and a dump mode for
// calibration. Not a test.
//
//   vz_bench [--models DIR] [--iters N] [--warmup N] [--workers N]
//            [--threads N] [--clients N] [--batch N] [--stages HEX]
//            [--attrs HEX] [--thr T] [--min-face PX] [--dump] FILES...
//
// Latency mode (default): each iteration analyses every file once (one call
// per file, or --batch files per call) and reports p50/p90 per call and the
// per-stage median timings. --clients N runs N threads calling at once and
// reports faces/s.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "vizor_c.h"

namespace {

std::vector<uint8_t> read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

double pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = size_t(std::min<double>(double(v.size() - 1), std::floor(q * double(v.size() - 1) + 0.5)));
  return v[i];
}

bool check(vz_status s, const char* what) {
  if (s.code == VZ_OK) return true;
  std::fprintf(stderr, "%s: code %d: %s\n", what, s.code, s.message ? s.message : "");
  vz_Status_Free(&s);
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  std::string models = "models";
  int iters = 20, warmup = 2, workers = 1, threads = 1, clients = 1, batch = 1;
  unsigned stages = 0, attrs = 0;
  float thr = 0;
  int min_face = 0;
  bool dump = false;
  std::string labels;
  std::vector<std::string> files;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) { std::fprintf(stderr, "%s needs a value\n", a.c_str()); std::exit(2); }
      return argv[++i];
    };
    if (a == "--models") models = next();
    else if (a == "--iters") iters = std::atoi(next());
    else if (a == "--warmup") warmup = std::atoi(next());
    else if (a == "--workers") workers = std::atoi(next());
    else if (a == "--threads") threads = std::atoi(next());
    else if (a == "--clients") clients = std::atoi(next());
    else if (a == "--batch") batch = std::atoi(next());
    else if (a == "--stages") stages = unsigned(std::strtoul(next(), nullptr, 16));
    else if (a == "--attrs") attrs = unsigned(std::strtoul(next(), nullptr, 16));
    else if (a == "--thr") thr = float(std::atof(next()));
    else if (a == "--min-face") min_face = std::atoi(next());
    else if (a == "--dump") dump = true;
    else if (a == "--auc") labels = next();
    else files.push_back(a);
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: vz_bench [options] FILES...\n");
    return 2;
  }
  std::vector<std::vector<uint8_t>> data;
  for (auto& f : files) data.push_back(read_file(f));

  vz_engine_config cfg{};
  cfg.models_dir = models.c_str();
  cfg.workers = workers;
  cfg.threads_per_worker = threads;
  vz_engine* eng = nullptr;
  if (!check(vz_Engine_Create(&cfg, &eng), "create")) return 1;
  vz_engine_info info;
  check(vz_Engine_Info(eng, &info), "info");
  std::fprintf(stderr, "vizor %s opencv %s backend %s workers %d threads %d dim %d\n", info.engine_version,
               info.opencv_version, info.backend, info.workers, threads, info.template_dim);

  vz_analyze_options opt{};
  opt.stages = stages;
  opt.attributes = attrs;
  opt.det_threshold = thr;
  opt.min_face_px = min_face;

  if (!labels.empty()) {
    // Verification AUC over all pairs of the files (largest face each), with
    // identities from LABELS.tsv (file<TAB>identity...); '-' rows skipped.
    std::ifstream lf(labels);
    std::string line;
    std::vector<std::pair<std::string, std::string>> ids;
    while (std::getline(lf, line)) {
      size_t t1 = line.find('\t');
      if (t1 == std::string::npos) continue;
      size_t t2 = line.find('\t', t1 + 1);
      ids.emplace_back(line.substr(0, t1), line.substr(t1 + 1, t2 - t1 - 1));
    }
    std::vector<std::string> who, names;
    std::vector<std::vector<float>> tm;
    for (size_t i = 0; i < files.size(); i++) {
      std::string base = files[i].substr(files[i].find_last_of('/') + 1), id;
      for (auto& p : ids)
        if (p.first == base) id = p.second;
      if (id.empty() || id == "-") continue;
      vz_image im{data[i].data(), int64_t(data[i].size())};
      vz_batch_result* r = nullptr;
      if (!check(vz_Engine_Analyze(eng, &im, 1, &opt, &r), "analyze")) continue;
      if (r->images[0].num_faces > 0 && r->images[0].faces[0].template_data) {
        who.push_back(id);
        names.push_back(base);
        tm.emplace_back(r->images[0].faces[0].template_data, r->images[0].faces[0].template_data + r->images[0].faces[0].template_dim);
      } else {
        std::printf("no template: %s\n", base.c_str());
      }
      vz_BatchResult_Free(r);
    }
    std::vector<double> gen, imp;
    int rank1 = 0, probes = 0;
    auto cosine = [&](size_t i, size_t j) {
      double c = 0;
      for (size_t k = 0; k < tm[i].size(); k++) c += double(tm[i][k]) * tm[j][k];
      return c;
    };
    for (size_t i = 0; i < tm.size(); i++) {
      double best = -2;
      bool best_same = false, has_mate = false;
      for (size_t j = 0; j < tm.size(); j++) {
        if (i == j) continue;
        const double c = cosine(i, j);
        if (j > i) (who[i] == who[j] ? gen : imp).push_back(c);
        if (who[i] == who[j]) has_mate = true;
        if (c > best) { best = c; best_same = who[i] == who[j]; }
      }
      if (has_mate) { probes++; rank1 += best_same; }
    }
    // Gallery protocol of bindings/engine_test.go: the first file by name of
    // each identity is enrolled, every other file probes the gallery.
    std::vector<size_t> order(tm.size());
    for (size_t i = 0; i < order.size(); i++) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return names[a] < names[b]; });
    std::vector<size_t> gallery;
    for (size_t i : order) {
      bool seen = false;
      for (size_t g : gallery) seen = seen || who[g] == who[i];
      if (!seen) gallery.push_back(i);
    }
    int g_right = 0, g_probes = 0;
    std::string misses;
    for (size_t i : order) {
      if (std::find(gallery.begin(), gallery.end(), i) != gallery.end()) continue;
      g_probes++;
      double best = -2, own = -2;
      size_t bi = 0;
      for (size_t g : gallery) {
        const double c = cosine(i, g);
        if (who[g] == who[i]) own = c;
        if (c > best) { best = c; bi = g; }
      }
      if (who[bi] == who[i]) {
        g_right++;
      } else {
        char b[256];
        std::snprintf(b, sizeof b, " %s->%s %.3f (own %.3f)", names[i].c_str(), who[bi].c_str(), best, own);
        misses += b;
      }
    }
    size_t wins = 0, ties = 0;
    for (double g : gen)
      for (double m : imp) { wins += g > m; ties += g == m; }
    double auc = (double(wins) + 0.5 * double(ties)) / double(std::max<size_t>(1, gen.size() * imp.size()));
    auto mean = [](const std::vector<double>& v) { double s = 0; for (double x : v) s += x; return v.empty() ? 0 : s / double(v.size()); };
    auto median = [](std::vector<double> v) { return v.empty() ? 0.0 : pct(v, 0.5); };
    std::printf("templates %zu genuine %zu (mean %.3f median %.3f min %.3f) impostor %zu (mean %.3f median %.3f max %.3f) AUC %.4f rank-1 %d/%d\n",
                tm.size(), gen.size(), mean(gen), median(gen), gen.empty() ? 0 : *std::min_element(gen.begin(), gen.end()), imp.size(),
                mean(imp), median(imp), imp.empty() ? 0 : *std::max_element(imp.begin(), imp.end()), auc, rank1, probes);
    std::printf("gallery rank-1 %d/%d (%zu enrolled)%s\n", g_right, g_probes, gallery.size(), misses.c_str());
    vz_Engine_Destroy(eng);
    return 0;
  }

  if (dump) {
    for (size_t i = 0; i < files.size(); i++) {
      vz_image im{data[i].data(), int64_t(data[i].size())};
      vz_batch_result* r = nullptr;
      if (!check(vz_Engine_Analyze(eng, &im, 1, &opt, &r), "analyze")) continue;
      const vz_image_result& ir = r->images[0];
      std::printf("%s\t%dx%d\tcode=%d\tfaces=%d\t%s\tt=%.1fms(dec %.1f det %.1f lm %.1f al %.1f emb %.1f live %.1f q %.1f attr %.1f)\n",
                  files[i].c_str(), ir.width, ir.height, ir.code, ir.num_faces, ir.message, ir.timings.total,
                  ir.timings.decode, ir.timings.detect, ir.timings.landmarks, ir.timings.align, ir.timings.embed,
                  ir.timings.liveness, ir.timings.quality, ir.timings.attributes);
      for (int k = 0; k < ir.num_faces; k++) {
        const vz_face& f = ir.faces[k];
        std::printf("  face %d box %.0f,%.0f %.0fx%.0f det %.3f live %.3f q %.2f [sz %.2f cf %.2f pose %.2f sh %.2f ex %.2f eye %.2f]",
                    k, f.x, f.y, f.w, f.h, f.det_score, f.liveness, f.quality.score, f.quality.size,
                    f.quality.confidence, f.quality.pose, f.quality.sharpness, f.quality.exposure, f.quality.eyes_open);
        const vz_attributes& a = f.attributes;
        if (a.age >= 0 || a.gender >= 0 || !std::isnan(a.yaw) || a.expression >= 0 || a.left_eye_open >= 0)
          std::printf(" age %.1f g %d(%.2f) ypr %.1f,%.1f,%.1f expr %d(%.2f) eyes %.2f,%.2f", a.age, a.gender,
                      a.gender_score, a.yaw, a.pitch, a.roll, a.expression,
                      a.expression >= 0 ? a.expression_scores[a.expression] : 0.f, a.left_eye_open, a.right_eye_open);
        std::printf("\n");
      }
      vz_BatchResult_Free(r);
    }
    vz_Engine_Destroy(eng);
    return 0;
  }

  // Latency / throughput.
  std::atomic<long> faces{0};
  std::vector<std::vector<double>> lat(static_cast<size_t>(clients));
  std::vector<std::vector<vz_timings>> tims(static_cast<size_t>(clients));
  auto worker = [&](int c, int n_iters, bool record) {
    for (int it = 0; it < n_iters; it++) {
      for (size_t i = 0; i < files.size(); i += size_t(batch)) {
        std::vector<vz_image> ims;
        for (size_t j = i; j < std::min(files.size(), i + size_t(batch)); j++)
          ims.push_back(vz_image{data[j].data(), int64_t(data[j].size())});
        vz_batch_result* r = nullptr;
        auto t0 = std::chrono::steady_clock::now();
        if (!check(vz_Engine_Analyze(eng, ims.data(), int32_t(ims.size()), &opt, &r), "analyze")) std::exit(1);
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (record) {
          lat[size_t(c)].push_back(ms);
          for (int k = 0; k < r->count; k++) {
            faces += r->images[k].num_faces;
            tims[size_t(c)].push_back(r->images[k].timings);
          }
        }
        vz_BatchResult_Free(r);
      }
    }
  };
  worker(0, warmup, false);
  auto cpu_ms = [] {
    rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
  };
  const double cpu0 = cpu_ms();
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> th;
  for (int c = 0; c < clients; c++) th.emplace_back(worker, c, iters, true);
  for (auto& t : th) t.join();
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_ms() - cpu0;
  std::vector<double> all;
  std::vector<vz_timings> allt;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  for (auto& v : tims) allt.insert(allt.end(), v.begin(), v.end());
  auto med = [&](double vz_timings::*f) {
    std::vector<double> v;
    for (auto& t : allt) v.push_back(t.*f);
    return pct(v, 0.5);
  };
  std::printf("calls %zu  p50 %.2f ms  p90 %.2f ms  min %.2f ms  | faces %ld in %.2fs = %.1f faces/s  images/s %.1f\n",
              all.size(), pct(all, 0.5), pct(all, 0.9), pct(all, 0.0), faces.load(), wall, double(faces.load()) / wall,
              double(allt.size()) / wall);
  std::printf("median stage ms: decode %.2f detect %.2f landmarks %.2f align %.2f liveness %.2f embed %.2f quality %.2f attributes %.2f total %.2f\n",
              med(&vz_timings::decode), med(&vz_timings::detect), med(&vz_timings::landmarks), med(&vz_timings::align),
              med(&vz_timings::liveness), med(&vz_timings::embed), med(&vz_timings::quality),
              med(&vz_timings::attributes), med(&vz_timings::total));
  if (faces.load() > 0)
    std::printf("cpu %.2f ms per face (user+sys) -> at most %.1f faces/s per core\n", cpu / double(faces.load()),
                1000.0 * double(faces.load()) / cpu);
  vz_Engine_Destroy(eng);
  return 0;
}
