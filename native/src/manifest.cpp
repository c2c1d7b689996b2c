// models/manifest.json: which ONNX file plays which role, and how each
// model's input is prepared. Parsed with cv::FileStorage (it reads JSON).
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "common.h"

namespace vz {
namespace {

std::string str(const cv::FileNode& n, const std::string& def = "") {
  if (n.empty() || n.isNone()) return def;
  if (!n.isString()) return def;
  return (std::string)n;
}
float num(const cv::FileNode& n, float def) {
  if (n.empty() || n.isNone()) return def;
  if (!(n.isInt() || n.isReal())) return def;
  return (float)n;
}
void triple(const cv::FileNode& n, float out[3], float def, const std::string& what,
            const std::string& model) {
  out[0] = out[1] = out[2] = def;
  if (n.empty() || n.isNone()) return;
  if (n.isInt() || n.isReal()) {
    out[0] = out[1] = out[2] = (float)n;
    return;
  }
  if (!n.isSeq() || n.size() < 1 || n.size() > 3)
    fail(VZ_ERR_MODEL, "manifest: " + model + ": input." + what + " must be a number or 1-3 numbers");
  for (size_t i = 0; i < 3; i++) out[i] = (float)n[int(std::min(i, n.size() - 1))];
}

}  // namespace


// The id stamped on templates: the manifest's id, then '@' and a digest of
// everything that decides the template space (the weights' sha256, input
// size, channel order, mean/std, flip). Editing any of them in the manifest
// thus changes the id, and the gallery refuses to mix the new templates
// with partitions enrolled under the old ones instead of comparing
// templates from two different spaces.
static std::string recognizer_id(const ModelSpec& s) {
  if (s.id.size() > VZ_NAME_LEN - 10)
    fail(VZ_ERR_MODEL, "manifest: recognizer id longer than " + std::to_string(VZ_NAME_LEN - 10) + " characters");
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s|%dx%dx%d|%s|%.6g,%.6g,%.6g|%.6g,%.6g,%.6g|flip=%d", s.sha256.c_str(), s.width,
                s.height, s.channels, s.order.c_str(), double(s.mean[0]), double(s.mean[1]), double(s.mean[2]),
                double(s.std[0]), double(s.std[1]), double(s.std[2]), s.flip ? 1 : 0);
  return s.id + "@" + sha256_string(buf).substr(0, 8);
}

Manifest load_manifest(const std::string& path, const std::string& models_dir) {
  Manifest m;
  m.path = path;
  m.dir = models_dir;
  {
    std::ifstream probe(path);
    if (!probe.good()) fail(VZ_ERR_MODEL, "manifest not found: " + path);
  }
  cv::FileStorage fs;
  try {
    if (!fs.open(path, cv::FileStorage::READ | cv::FileStorage::FORMAT_JSON))
      fail(VZ_ERR_MODEL, "cannot read manifest " + path);
  } catch (const cv::Exception& e) {
    fail(VZ_ERR_MODEL, "manifest " + path + " is not valid JSON: " + e.what());
  }
  cv::FileNode models = fs["models"];
  if (!models.isSeq() || models.size() == 0) fail(VZ_ERR_MODEL, "manifest has no models[]: " + path);
  for (auto it = models.begin(); it != models.end(); ++it) {
    cv::FileNode n = *it;
    ModelSpec s;
    s.role = str(n["role"]);
    s.name = str(n["name"]);
    s.file = str(n["file"]);
    if (s.role.empty() || s.file.empty()) fail(VZ_ERR_MODEL, "manifest: a model lacks role or file");
    if (s.name.empty()) s.name = s.file;
    s.path = models_dir + "/" + s.file;
    s.sha256 = str(n["sha256"]);
    s.source = str(n["source"]);
    s.family = str(n["family"]);
    s.id = str(n["id"], s.name);
    s.dim = (int)num(n["dim"], 0);
    s.threshold = num(n["threshold"], 0);
    s.positive_class = (int)num(n["positive_class"], -1);
    s.crop_scale = num(n["crop_scale"], 0);
    s.flip = num(n["flip"], 0) != 0;
    // Which inference runtime runs this net; absent: OpenCV DNN, the one
    // every manifest before the "ort" runtime was written for.
    s.runtime = str(n["runtime"], "opencv");
    if (s.runtime != "opencv" && s.runtime != "ort")
      fail(VZ_ERR_MODEL, "manifest: " + s.name + ": runtime must be \"ort\" or \"opencv\", got \"" + s.runtime + "\"");
    cv::FileNode labels = n["labels"];
    if (labels.isSeq())
      for (auto l = labels.begin(); l != labels.end(); ++l) s.labels.push_back((std::string)*l);
    cv::FileNode outs = n["outputs"];
    if (outs.isSeq())
      for (auto l = outs.begin(); l != outs.end(); ++l) s.outputs.push_back((std::string)*l);
    cv::FileNode in = n["input"];
    if (in.empty() || !in.isMap()) fail(VZ_ERR_MODEL, "manifest: " + s.name + " lacks input{}");
    s.width = (int)num(in["width"], 0);
    s.height = (int)num(in["height"], 0);
    s.channels = (int)num(in["channels"], 3);
    s.order = str(in["order"], s.channels == 1 ? "GRAY" : "RGB");
    if (s.width <= 0 || s.height <= 0 || s.width > 4096 || s.height > 4096)
      fail(VZ_ERR_MODEL, "manifest: " + s.name + ": bad input width/height");
    if (!(s.channels == 1 || s.channels == 3))
      fail(VZ_ERR_MODEL, "manifest: " + s.name + ": input.channels must be 1 or 3");
    if (s.channels == 1 && s.order != "GRAY") s.order = "GRAY";
    // GRAY with 3 channels: the luminance on all three planes (a colour
    // model fed a colour-free picture; see the recognizer's note).
    if (s.channels == 3 && s.order != "RGB" && s.order != "BGR" && s.order != "GRAY")
      fail(VZ_ERR_MODEL, "manifest: " + s.name + ": input.order must be RGB, BGR or GRAY");
    triple(in["mean"], s.mean, 0.f, "mean", s.name);
    triple(in["std"], s.std, 1.f, "std", s.name);
    for (float v : s.std)
      if (!(v != 0.f)) fail(VZ_ERR_MODEL, "manifest: " + s.name + ": input.std must be non-zero");
    if (s.role == "recognizer") s.id = recognizer_id(s);
    for (auto& prev : m.models)
      if (prev.role == s.role) fail(VZ_ERR_MODEL, "manifest: role " + s.role + " appears twice");
    m.models.push_back(std::move(s));
  }
  return m;
}

// img: 8UC3 BGR (or 8UC1) at the model's input size.
void fill_blob(const cv::Mat& img, const ModelSpec& spec, float* dst) {
  const int w = spec.width, h = spec.height, plane = w * h;
  CV_Assert(img.cols == w && img.rows == h && img.depth() == CV_8U);
  if (spec.channels == 1) {
    cv::Mat gray;
    if (img.channels() == 3) cv::cvtColor(img, gray, cv::COLOR_BGR2GRAY);
    else gray = img;
    const float m = spec.mean[0], inv = 1.f / spec.std[0];
    for (int y = 0; y < h; y++) {
      const uint8_t* p = gray.ptr<uint8_t>(y);
      float* d = dst + y * w;
      for (int x = 0; x < w; x++) d[x] = (p[x] - m) * inv;
    }
    return;
  }
  CV_Assert(img.channels() == 3);
  if (spec.order == "GRAY") {
    cv::Mat gray;
    cv::cvtColor(img, gray, cv::COLOR_BGR2GRAY);
    for (int c = 0; c < 3; c++) {
      const float m = spec.mean[c], inv = 1.f / spec.std[c];
      for (int y = 0; y < h; y++) {
        const uint8_t* p = gray.ptr<uint8_t>(y);
        float* d = dst + c * plane + y * w;
        for (int x = 0; x < w; x++) d[x] = (p[x] - m) * inv;
      }
    }
    return;
  }
  // Destination plane c takes source BGR channel src[c].
  const bool rgb = spec.order == "RGB";
  const int src[3] = {rgb ? 2 : 0, 1, rgb ? 0 : 2};
  float m[3], inv[3];
  for (int c = 0; c < 3; c++) { m[c] = spec.mean[c]; inv[c] = 1.f / spec.std[c]; }
  float* d0 = dst; float* d1 = dst + plane; float* d2 = dst + 2 * plane;
  for (int y = 0; y < h; y++) {
    const uint8_t* p = img.ptr<uint8_t>(y);
    const int o = y * w;
    for (int x = 0; x < w; x++) {
      const uint8_t* px = p + 3 * x;
      d0[o + x] = (px[src[0]] - m[0]) * inv[0];
      d1[o + x] = (px[src[1]] - m[1]) * inv[1];
      d2[o + x] = (px[src[2]] - m[2]) * inv[2];
    }
  }
}

}  // namespace vz
