// datapool_decode_bench: the server's per-image decode cost, for
// bench/images_bench.py.
//
//   datapool_decode_bench LIST [--size=64] [--reps=3]
//
// LIST names one image file per line. Reads them into memory, then R times
// in turn decodes every file to size × size on this one thread with
// OpenCvDecoder::DecodeAndResize as the server does: TurboJPEG (the
// default) and OpenCV's imdecode (--jpeg-decoder opencv). Prints one JSON
// object: per image the best of R in thread CPU ms (core-ms) and in wall
// ms for each decoder, every repetition's CPU ms, and whether the two
// decoders gave the same pixels for every file.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/bench_support.h"
#include "server/backends/opencv/opencv_decoder.h"

namespace datapool_bench {
namespace {

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) +
         1e-9 * static_cast<double>(ts.tv_nsec);
}

std::vector<std::string> ReadFiles(const std::string& list) {
  std::ifstream in(list);
  if (!in) Die("cannot open " + list);
  std::vector<std::string> files;
  for (std::string path; std::getline(in, path);) {
    if (path.empty()) continue;
    std::ifstream f(path, std::ios::binary);
    if (!f) Die("cannot open " + path);
    std::stringstream bytes;
    bytes << f.rdbuf();
    files.push_back(bytes.str());
  }
  if (files.empty()) Die(list + " names no files");
  return files;
}

std::unique_ptr<datapool::OpenCvDecoder> MakeDecoder(bool turbojpeg) {
  datapool::OpenCvDecoder::Options options;
  options.turbojpeg = turbojpeg;
  auto decoder = datapool::OpenCvDecoder::Create(options);
  if (!decoder.ok()) Die(std::string(decoder.status().message()));
  return *std::move(decoder);
}

struct Pass {
  double cpu_ms = 0;   // per image
  double wall_ms = 0;  // per image
};

Pass DecodeAll(const datapool::OpenCvDecoder& decoder,
               const std::vector<std::string>& files, int size,
               std::vector<std::vector<uint8_t>>* pixels) {
  const double cpu0 = ThreadCpuSeconds();
  const Clock::time_point t0 = Clock::now();
  for (size_t i = 0; i < files.size(); ++i) {
    auto img = decoder.DecodeAndResize(files[i], size);
    if (!img.ok()) Die(std::string(img.status().message()));
    if (pixels != nullptr) (*pixels)[i] = std::move(img->pixels);
  }
  const double n = static_cast<double>(files.size());
  return {1000 * (ThreadCpuSeconds() - cpu0) / n,
          1000 * Seconds(t0, Clock::now()) / n};
}

int Run(int argc, char** argv) {
  if (argc < 2) Die("usage: datapool_decode_bench LIST [--size=64] [--reps=3]");
  Flags flags(argc, argv);
  const int size = static_cast<int>(flags.Int("size", 64));
  const int reps = static_cast<int>(flags.Int("reps", 3));
  flags.CheckAllUsed();
  const std::vector<std::string> files = ReadFiles(argv[1]);
  const auto turbo = MakeDecoder(true);
  const auto opencv = MakeDecoder(false);

  // Untimed: both decoders once (warm caches), keeping the pixels.
  std::vector<std::vector<uint8_t>> a(files.size()), b(files.size());
  DecodeAll(*turbo, files, size, &a);
  DecodeAll(*opencv, files, size, &b);
  const bool same = a == b;

  std::vector<Pass> t, o;
  for (int r = 0; r < reps; ++r) {
    t.push_back(DecodeAll(*turbo, files, size, nullptr));
    o.push_back(DecodeAll(*opencv, files, size, nullptr));
  }
  auto best = [](const std::vector<Pass>& v, double Pass::*field) {
    double m = v[0].*field;
    for (const Pass& p : v) m = std::min(m, p.*field);
    return m;
  };
  auto all = [](const std::vector<Pass>& v) {
    std::vector<std::string> s;
    for (const Pass& p : v) s.push_back(absl::StrCat(p.cpu_ms));
    return absl::StrJoin(s, ", ");
  };
  std::printf(
      "{\"images\": %zu, \"size\": %d, \"reps\": %d, "
      "\"turbojpeg_cpu_ms\": %.4f, \"turbojpeg_wall_ms\": %.4f, "
      "\"opencv_cpu_ms\": %.4f, \"opencv_wall_ms\": %.4f, "
      "\"turbojpeg_cpu_ms_all\": [%s], \"opencv_cpu_ms_all\": [%s], "
      "\"same_pixels\": %s}\n",
      files.size(), size, reps, best(t, &Pass::cpu_ms), best(t, &Pass::wall_ms),
      best(o, &Pass::cpu_ms), best(o, &Pass::wall_ms), all(t).c_str(),
      all(o).c_str(), same ? "true" : "false");
  return 0;
}

}  // namespace
}  // namespace datapool_bench

int main(int argc, char** argv) { return datapool_bench::Run(argc, argv); }
