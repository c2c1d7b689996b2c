// A tiny in-house test harness: TEST(name) registers a case, CHECK* record
// failures and keep going; main() runs the cases whose name starts with
// argv[1] (all when absent). Exit code 77 means "skipped" for ctest.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "vizor_c.h"

namespace th {

struct Case {
  const char* name;
  std::function<void()> fn;
};
inline std::vector<Case>& cases() {
  static std::vector<Case> c;
  return c;
}
inline int& failures() {
  static int f = 0;
  return f;
}
struct Reg {
  Reg(const char* n, std::function<void()> f) { cases().push_back({n, std::move(f)}); }
};
struct Skip {
  std::string why;
};

inline std::string env_or(const char* name, const std::string& def) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::string(v) : def;
}
inline std::string models_dir() { return env_or("VIZOR_MODELS_DIR", std::string(VIZOR_REPO_DIR) + "/models"); }
inline std::string shared_data() { return env_or("VIZOR_SHARED_DATA", std::string(VIZOR_REPO_DIR) + "/../shared/data"); }
inline std::vector<uint8_t> read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw Skip{"missing " + p};
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
inline std::vector<uint8_t> face(const std::string& name) { return read_file(shared_data() + "/faces/" + name); }

inline int run(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : "";
  int ran = 0, skipped = 0;
  for (auto& c : cases()) {
    if (std::strncmp(c.name, filter, std::strlen(filter)) != 0) continue;
    int before = failures();
    try {
      c.fn();
      ran++;
      std::printf("%s %s\n", failures() == before ? "PASS" : "FAIL", c.name);
    } catch (const Skip& s) {
      skipped++;
      std::printf("SKIP %s: %s\n", c.name, s.why.c_str());
    } catch (const std::exception& e) {
      failures()++;
      std::printf("FAIL %s: exception %s\n", c.name, e.what());
    }
  }
  std::printf("%d run, %d skipped, %d failed checks\n", ran, skipped, failures());
  if (failures()) return 1;
  return (ran == 0 && skipped > 0) ? 77 : 0;
}

}  // namespace th

#define TH_CAT2(a, b) a##b
#define TH_CAT(a, b) TH_CAT2(a, b)
#define TEST(name)                                                  \
  static void TH_CAT(test_, name)();                                \
  static th::Reg TH_CAT(reg_, name)(#name, TH_CAT(test_, name));    \
  static void TH_CAT(test_, name)()
#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      th::failures()++;                                                              \
      std::printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);         \
    }                                                                                \
  } while (0)
#define CHECK_CODE(status, want)                                                                         \
  do {                                                                                                   \
    vz_status s_ = (status);                                                                             \
    if (s_.code != (want)) {                                                                             \
      th::failures()++;                                                                                  \
      std::printf("  %s:%d: %s gave code %d (%s), want %d\n", __FILE__, __LINE__, #status, s_.code,      \
                  s_.message ? s_.message : "", int(want));                                              \
    } else if ((want) != VZ_OK && !s_.message) {                                                         \
      th::failures()++;                                                                                  \
      std::printf("  %s:%d: %s: error without a message\n", __FILE__, __LINE__, #status);               \
    }                                                                                                    \
    vz_Status_Free(&s_);                                                                                 \
  } while (0)
