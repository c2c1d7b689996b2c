// vz_netbench: each net of the manifest alone, on OpenCV DNN and on ONNX
// Runtime side by side (random input at the manifest's size, batch 1), plus
// the machine's attainable fp32 rate (OpenBLAS sgemm) that bounds them.
// Not a test; bench/engine/cmd/engine-bench runs it and keeps its table.
//
//   vz_netbench [--models DIR] [--iters N] [--threads N]
//
// Prints Markdown rows: per net the median wall time of a forward pass and
// the process CPU time per pass (user+sys, all threads; robust to a busy
// machine where wall time is not). The two runtimes alternate in blocks of
// 5 passes so that load from elsewhere falls on both alike.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <cblas.h>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

#include "common.h"
#include "ort_runtime.h"

extern "C" void openblas_set_num_threads(int);

namespace {

double cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}
double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Attainable fp32 GFLOP/s: the best of a few 1536^3 sgemms.
double sgemm_gflops(int threads) {
  const int n = 1536;
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  openblas_set_num_threads(threads);
  double best = 0;
  for (int i = 0; i < 6; i++) {
    double t0 = now_ms();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
    double dt = (now_ms() - t0) / 1e3;
    if (i > 0) best = std::max(best, 2.0 * n * n * n / dt / 1e9);
  }
  return best;
}

struct Stat {
  std::vector<double> wall;
  double cpu = 0;
  int n = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string models = "models";
  int iters = 50, threads = 1;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--models") models = next();
    else if (a == "--iters") iters = std::max(5, std::atoi(next()));
    else if (a == "--threads") threads = std::max(1, std::atoi(next()));
    else {
      std::fprintf(stderr, "usage: vz_netbench [--models DIR] [--iters N] [--threads N]\n");
      return 2;
    }
  }
  try {
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    cv::setNumThreads(threads);
    vz::Manifest m = vz::load_manifest(models + "/manifest.json", models);
    std::printf("onnxruntime %s, opencv %s, %d thread(s), %d passes per net\n", vz::ort_version().c_str(), CV_VERSION,
                threads, iters);
    std::printf("sgemm fp32 peak: %.1f GFLOP/s\n", sgemm_gflops(threads));
    std::printf("| net | input | OpenCV ms | OpenCV CPU ms | ORT ms | ORT CPU ms | CPU ratio OpenCV/ORT |\n");
    std::printf("|---|---|---:|---:|---:|---:|---:|\n");
    for (const vz::ModelSpec& s : m.models) {
      cv::dnn::Net net = cv::dnn::readNetFromONNX(s.path);
      net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
      std::vector<std::string> names = s.outputs.empty() ? net.getUnconnectedOutLayersNames() : s.outputs;
      vz::OrtNet ort(s.path, threads);
      int shape[4] = {1, s.channels, s.height, s.width};
      cv::Mat blob(4, shape, CV_32F);
      cv::randu(blob, -1.0, 1.0);
      auto run_cv = [&] {
        std::vector<cv::Mat> outs;
        net.setInput(blob);
        net.forward(outs, names);
      };
      auto run_ort = [&] { ort.forward(blob, s.outputs); };
      for (int w = 0; w < 3; w++) run_cv(), run_ort();
      Stat sc, so;
      auto block = [&](Stat& st, const std::function<void()>& f) {
        double c0 = cpu_ms();
        for (int k = 0; k < 5; k++) {
          double t0 = now_ms();
          f();
          st.wall.push_back(now_ms() - t0);
        }
        st.cpu += cpu_ms() - c0;
        st.n += 5;
      };
      for (int done = 0; done < iters; done += 5) {
        block(sc, run_cv);
        block(so, run_ort);
      }
      const double cc = sc.cpu / sc.n, co = so.cpu / so.n;
      std::printf("| %s | %dx%dx%d | %.2f | %.2f | %.2f | %.2f | %.2f |\n", s.name.c_str(), s.channels, s.height,
                  s.width, median(sc.wall), cc, median(so.wall), co, co > 0 ? cc / co : 0.0);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vz_netbench: %s\n", e.what());
    return 1;
  }
  return 0;
}
