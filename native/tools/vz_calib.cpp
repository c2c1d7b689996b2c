// vz_calib: activation ranges of a recognizer on real aligned faces, for
// bench/quant/quantize.py's static int8 model (issue 14's reduced-precision
// trial). Not a test.
//
//   vz_calib --models DIR --net AUG.onnx --names NAMES FACES_DIR > ranges.json
//
// The engine (shipped manifest in DIR) finds every face of every image in
// FACES_DIR and its five points; the face is aligned here to the ArcFace
// 112x112 template, turned into the recognizer's input (luminance on three
// planes, (v-127)/128, as the shipped manifest declares), and AUG.onnx (the
// recognizer with the tensors named in NAMES as extra outputs) runs on
// ONNX Runtime. Prints {tensor: [min, max]} over all faces.
#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "ort_runtime.h"
#include "vizor_c.h"

int main(int argc, char** argv) {
  std::string models = "models", net_path, names_file, faces;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--models" && i + 1 < argc) models = argv[++i];
    else if (a == "--net" && i + 1 < argc) net_path = argv[++i];
    else if (a == "--names" && i + 1 < argc) names_file = argv[++i];
    else faces = a;
  }
  if (net_path.empty() || names_file.empty() || faces.empty()) {
    std::fprintf(stderr, "usage: vz_calib --models DIR --net AUG.onnx --names NAMES FACES_DIR\n");
    return 2;
  }
  try {
    std::vector<std::string> names;
    std::ifstream nf(names_file);
    for (std::string l; std::getline(nf, l);)
      if (!l.empty()) names.push_back(l);
    vz_engine_config cfg{};
    cfg.models_dir = models.c_str();
    cfg.workers = 1;
    vz_engine* e = nullptr;
    vz_status s = vz_Engine_Create(&cfg, &e);
    if (s.code != VZ_OK) {
      std::fprintf(stderr, "vz_calib: %s\n", s.message ? s.message : "engine");
      vz_Status_Free(&s);
      return 1;
    }
    vz::OrtNet net(net_path, 1);
    const std::vector<cv::Point2f> ref = {
        {38.2946f, 51.6963f}, {73.5318f, 51.5014f}, {56.0252f, 71.7366f}, {41.5493f, 92.3655f}, {70.7299f, 92.2041f}};
    std::vector<std::string> files;
    if (DIR* d = opendir(faces.c_str())) {
      while (dirent* de = readdir(d)) {
        std::string n = de->d_name;
        std::string low = n;
        std::transform(low.begin(), low.end(), low.begin(), ::tolower);
        if (low.size() > 4 && (low.rfind(".jpg") == low.size() - 4 || low.rfind(".png") == low.size() - 4 ||
                               low.rfind(".jpeg") == low.size() - 5 || low.rfind(".webp") == low.size() - 5))
          files.push_back(n);
      }
      closedir(d);
    }
    std::sort(files.begin(), files.end());
    std::map<std::string, std::pair<double, double>> r;
    int count = 0;
    for (auto& n : files) {
      std::ifstream f(faces + "/" + n, std::ios::binary);
      std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      vz_image im{b.data(), int64_t(b.size())};
      vz_batch_result* br = nullptr;
      vz_status sa = vz_Engine_Analyze(e, &im, 1, nullptr, &br);
      vz_Status_Free(&sa);
      // imdecode applies EXIF orientation as the engine does.
      cv::Mat img = cv::imdecode(b, cv::IMREAD_COLOR);
      if (br && br->images[0].code == VZ_OK && !img.empty()) {
        for (int i = 0; i < br->images[0].num_faces; i++) {
          const vz_face& fc = br->images[0].faces[i];
          std::vector<cv::Point2f> src;
          for (int k = 0; k < 5; k++) src.push_back({fc.landmarks5[2 * k], fc.landmarks5[2 * k + 1]});
          cv::Mat M = cv::estimateAffinePartial2D(src, ref), crop, gray;
          if (M.empty()) continue;
          cv::warpAffine(img, crop, M, cv::Size(112, 112));
          cv::cvtColor(crop, gray, cv::COLOR_BGR2GRAY);
          int shape[4] = {1, 3, 112, 112};
          cv::Mat blob(4, shape, CV_32F);
          float* p = blob.ptr<float>();
          for (int c = 0; c < 3; c++)
            for (int y = 0; y < 112; y++)
              for (int x = 0; x < 112; x++) p[(c * 112 + y) * 112 + x] = (gray.at<uint8_t>(y, x) - 127.f) / 128.f;
          std::vector<cv::Mat> outs = net.forward(blob, names);
          for (size_t k = 0; k < names.size(); k++) {
            double mn, mx;
            cv::minMaxLoc(outs[k], &mn, &mx);
            auto it = r.find(names[k]);
            if (it == r.end()) r[names[k]] = {mn, mx};
            else it->second = {std::min(it->second.first, mn), std::max(it->second.second, mx)};
          }
          count++;
        }
      }
      vz_BatchResult_Free(br);
    }
    vz_Engine_Destroy(e);
    std::printf("{\n");
    size_t i = 0;
    for (auto& kv : r)
      std::printf("\"%s\": [%.9g, %.9g]%s\n", kv.first.c_str(), kv.second.first, kv.second.second,
                  ++i < r.size() ? "," : "");
    std::printf("}\n");
    std::fprintf(stderr, "vz_calib: %d faces from %zu images, %zu tensors\n", count, files.size(), r.size());
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "vz_calib: %s\n", ex.what());
    return 1;
  }
  return 0;
}
