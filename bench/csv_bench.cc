// datapool_csv_bench: the in-process side of bench/csv_bench.py.
//
// Subcommands (each prints one JSON object on stdout; flags are --key=value
// after the positional arguments):
//
//   write RAW.f32 N D OUT.csv [--reps=1] [--threads=0]
//       Builds the EmbeddingTable a pool of N rows would hold: values from
//       the raw little-endian float32 file (N x D), filenames
//       images/class_<i%10>/img_<i>.jpg, labels i%10. Then, R times, what
//       PoolStore::Commit does with the CSV: AppendCsv into a fresh string,
//       then WriteFileAtomically (temporary file, fsync, rename, fsync of the
//       folder). Reports the best total and its two parts, every total, the
//       file's bytes, CPU seconds, and (info) the time of the Checksum()
//       that Commit also computes.
//   read CSV [--reps=1] [--threads=0] [--no-expect]
//       Times ReadCsvFile R times (best and all; CPU seconds too). Then the
//       parts of a pool load, each the best of R: ReadFile, ParseCsv of the
//       text in memory, Checksum (what PoolStore::Load compares
//       with the metadata). Reports
//       rows, dim, a checksum of the values' bits (see ValuesChecksum; the
//       driver computes the same with numpy), and whether the filenames and
//       labels are the ones `write` makes (skipped with --no-expect).
//   commit RAW.f32 N D SHARED POOL
//       Writes the same table as a new pool through PoolStore::Commit
//       (normalized=true metadata, no history): SHARED/POOL/ gets what the
//       store writes for a pool a server owns (datapool_latest.csv,
//       datapool_meta.json and whatever else Commit leaves there).
//   load SHARED [--reps=1]
//       The in-process part of a server start, R times: PoolStore::Load of
//       every pool (read, parse, checksum, normalise an adopted pool), and
//       separately PoolManager::Create with the server's FAISS index factory
//       (the same loads plus each pool's snapshot: filename set and index).
//
// --threads is passed to the codec where its functions take a thread count
// as a trailing int argument (detected at compile time; "threads_arg" in the
// JSON says whether it was). 0 = the codec's default.
//
// Peak RSS is VmHWM from /proc/self/status; getrusage's ru_maxrss is printed
// too but Linux carries it across execve (a child of a large Python driver
// reports the driver's size), so the driver uses VmHWM.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_support.h"
#include "common/csv_codec.h"
#include "common/embedding_table.h"
#include "common/file_util.h"
#include "server/backends/faiss/faiss_index.h"
#include "server/core/pool_manager.h"
#include "server/core/pool_metadata.h"
#include "server/core/pool_store.h"

namespace {

using datapool::EmbeddingTable;
using datapool_bench::Clock;
using datapool_bench::CpuSeconds;
using datapool_bench::Die;
using datapool_bench::PeakRssKiB;
using datapool_bench::Seconds;

template <typename T>
T OrDie(absl::StatusOr<T> v) {
  if (!v.ok()) Die(std::string(v.status().ToString()));
  return *std::move(v);
}

void OrDie(const absl::Status& s) {
  if (!s.ok()) Die(std::string(s.ToString()));
}

// Positional arguments, then --key=value flags.
class Args {
 public:
  Args(int argc, char** argv) {
    for (int i = 2; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0) {
        positional_.push_back(a);
        continue;
      }
      const size_t eq = a.find('=');
      if (eq == std::string::npos) {
        flags_[a.substr(2)] = "1";
      } else {
        flags_[a.substr(2, eq - 2)] = a.substr(eq + 1);
      }
    }
  }
  const std::string& Pos(size_t i, const char* what) const {
    if (i >= positional_.size()) Die(std::string("missing argument ") + what);
    return positional_[i];
  }
  void ExpectPositional(size_t n) const {
    if (positional_.size() != n) {
      Die(absl::StrCat("expected ", n, " arguments, got ", positional_.size()));
    }
  }
  long long Int(const std::string& key, long long dflt) {
    used_[key] = true;
    auto it = flags_.find(key);
    if (it == flags_.end()) return dflt;
    char* end = nullptr;
    const long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (*end != '\0') Die("--" + key + " is not an integer: " + it->second);
    return v;
  }
  bool Bool(const std::string& key) {
    used_[key] = true;
    return flags_.count(key) > 0;
  }
  void CheckAllUsed() const {
    for (const auto& [k, v] : flags_) {
      if (!used_.count(k)) Die("unknown flag --" + k);
    }
  }

 private:
  std::vector<std::string> positional_;
  std::map<std::string, std::string> flags_;
  std::map<std::string, bool> used_;
};

long long ParseCount(const std::string& s, const char* what) {
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (*end != '\0' || v <= 0) Die(std::string(what) + " must be > 0: " + s);
  return v;
}

long MaxRssKiB() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;  // KiB on Linux
}

// ---------------------------------------------------------------- codec calls
// The codec may gain a trailing thread-count argument; pass it when it has
// one. The templates make the call dependent so that a missing overload is a
// substitution failure, not an error.
bool g_threads_arg = false;

template <typename Table>
auto AppendCsvImpl(const Table& t, std::string* out, int threads, int)
    -> decltype(datapool::AppendCsv(t, out, threads), void()) {
  g_threads_arg = true;
  datapool::AppendCsv(t, out, threads);
}
template <typename Table>
void AppendCsvImpl(const Table& t, std::string* out, int, long) {
  datapool::AppendCsv(t, out);
}
void CallAppendCsv(const EmbeddingTable& t, std::string* out, int threads) {
  AppendCsvImpl(t, out, threads, 0);
}

template <typename View>
auto ParseCsvImpl(View text, int threads, int)
    -> decltype(datapool::ParseCsv(text, threads)) {
  g_threads_arg = true;
  return datapool::ParseCsv(text, threads);
}
template <typename View>
absl::StatusOr<EmbeddingTable> ParseCsvImpl(View text, int, long) {
  return datapool::ParseCsv(text);
}
absl::StatusOr<EmbeddingTable> CallParseCsv(absl::string_view text,
                                            int threads) {
  return ParseCsvImpl(text, threads, 0);
}

template <typename Path>
auto ReadCsvFileImpl(const Path& path, int threads, int)
    -> decltype(datapool::ReadCsvFile(path, threads)) {
  g_threads_arg = true;
  return datapool::ReadCsvFile(path, threads);
}
template <typename Path>
absl::StatusOr<EmbeddingTable> ReadCsvFileImpl(const Path& path, int, long) {
  return datapool::ReadCsvFile(path);
}
absl::StatusOr<EmbeddingTable> CallReadCsvFile(const std::string& path,
                                               int threads) {
  return ReadCsvFileImpl(path, threads, 0);
}

// ---------------------------------------------------------------- data

std::string FileName(size_t i) {
  return absl::StrCat("images/class_", i % 10, "/img_", i, ".jpg");
}

EmbeddingTable MakeTable(const std::string& raw, size_t n, size_t d) {
  EmbeddingTable t;
  t.dimension = d;
  t.values.resize(n * d);
  FILE* f = std::fopen(raw.c_str(), "rb");
  if (f == nullptr) Die("cannot open " + raw);
  if (std::fread(t.values.data(), sizeof(float), n * d, f) != n * d) {
    Die(absl::StrCat(raw, " holds fewer than ", n, " x ", d, " floats"));
  }
  std::fclose(f);
  t.filenames.reserve(n);
  t.labels.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    t.filenames.push_back(FileName(i));
    t.labels.push_back(static_cast<int64_t>(i % 10));
  }
  return t;
}

// sum_i bits(v[i]) * (i + 1) mod 2^64, as 16 hex digits: position-weighted,
// so any changed bit or moved value shows, and numpy computes it in a line
// ((bits.astype(uint64) * arange(1, n + 1, dtype=uint64)).sum()).
std::string ValuesChecksum(const std::vector<float>& v) {
  uint64_t sum = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &v[i], sizeof bits);
    sum += static_cast<uint64_t>(bits) * (i + 1);
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, sum);
  return buf;
}

// Whether filenames and labels are the ones MakeTable writes.
bool NamesAndLabelsExpected(const EmbeddingTable& t) {
  if (t.labels.size() != t.size()) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t.labels[i] != static_cast<int64_t>(i % 10) ||
        t.filenames[i] != FileName(i)) {
      return false;
    }
  }
  return true;
}

std::string JsonList(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    absl::StrAppend(&s, i ? ", " : "", absl::StrFormat("%.6f", v[i]));
  }
  return s + "]";
}

double Min(const std::vector<double>& v) {
  double m = v.at(0);
  for (double x : v) m = std::min(m, x);
  return m;
}

// ---------------------------------------------------------------- commands

int Write(Args& args) {
  args.ExpectPositional(4);
  const std::string raw = args.Pos(0, "RAW");
  const size_t n = ParseCount(args.Pos(1, "N"), "N");
  const size_t d = ParseCount(args.Pos(2, "D"), "D");
  const std::string out_path = args.Pos(3, "OUT");
  const int reps = static_cast<int>(args.Int("reps", 1));
  const int threads = static_cast<int>(args.Int("threads", 0));
  args.CheckAllUsed();

  const EmbeddingTable table = MakeTable(raw, n, d);
  std::vector<double> totals, formats, writes, cpus;
  size_t bytes = 0;
  std::string csv_sum;
  double checksum_s = 0;
  for (int r = 0; r < reps; ++r) {
    const double c0 = CpuSeconds();
    const auto t0 = Clock::now();
    std::string csv;
    CallAppendCsv(table, &csv, threads);
    const auto t1 = Clock::now();
    OrDie(datapool::WriteFileAtomically(out_path, csv));
    const auto t2 = Clock::now();
    cpus.push_back(CpuSeconds() - c0);
    formats.push_back(Seconds(t0, t1));
    writes.push_back(Seconds(t1, t2));
    totals.push_back(Seconds(t0, t2));
    bytes = csv.size();
    if (r == 0) {
      const auto c0 = Clock::now();
      csv_sum = datapool::Checksum(csv);
      checksum_s = Seconds(c0, Clock::now());
    }
  }
  size_t best = 0;
  for (size_t i = 1; i < totals.size(); ++i) {
    if (totals[i] < totals[best]) best = i;
  }
  std::printf(
      "{\"cmd\": \"write\", \"rows\": %zu, \"dim\": %zu, \"bytes\": %zu, "
      "\"seconds\": %.6f, \"format_s\": %.6f, \"write_file_s\": %.6f, "
      "\"all_s\": %s, \"cpu_s\": %.6f, \"all_cpu_s\": %s, "
      "\"checksum_s\": %.6f, \"csv_checksum\": \"%s\", "
      "\"threads\": %d, \"threads_arg\": %s, \"peak_rss_kib\": %ld, "
      "\"ru_maxrss_kib\": %ld}\n",
      n, d, bytes, totals[best], formats[best], writes[best],
      JsonList(totals).c_str(), cpus[best], JsonList(cpus).c_str(), checksum_s,
      csv_sum.c_str(), threads, g_threads_arg ? "true" : "false", PeakRssKiB(),
      MaxRssKiB());
  return 0;
}

int Read(Args& args) {
  args.ExpectPositional(1);
  const std::string path = args.Pos(0, "CSV");
  const int reps = static_cast<int>(args.Int("reps", 1));
  const int threads = static_cast<int>(args.Int("threads", 0));
  const bool expect = !args.Bool("no-expect");
  args.CheckAllUsed();

  std::vector<double> totals, cpus;
  EmbeddingTable table;
  for (int r = 0; r < reps; ++r) {
    table = EmbeddingTable();  // freed outside the clock
    const double c0 = CpuSeconds();
    const auto t0 = Clock::now();
    absl::StatusOr<EmbeddingTable> t = CallReadCsvFile(path, threads);
    const auto t1 = Clock::now();
    cpus.push_back(CpuSeconds() - c0);
    table = OrDie(std::move(t));
    totals.push_back(Seconds(t0, t1));
  }
  size_t best = 0;
  for (size_t i = 1; i < totals.size(); ++i) {
    if (totals[i] < totals[best]) best = i;
  }
  const long peak_read = PeakRssKiB();
  const std::string values_sum = ValuesChecksum(table.values);
  const bool names_ok = expect ? NamesAndLabelsExpected(table) : true;
  const size_t rows = table.size(), dim = table.dimension;
  table = EmbeddingTable();

  // The parts, each the best of R: the file, the parse of the text in
  // memory, the Checksum() that a pool load compares with its metadata.
  double read_file_s = 1e30, parse_s = 1e30, checksum_s = 1e30;
  std::string text, csv_sum;
  for (int r = 0; r < reps; ++r) {
    text = std::string();
    const auto p0 = Clock::now();
    text = OrDie(datapool::ReadFile(path));
    const auto p1 = Clock::now();
    absl::StatusOr<EmbeddingTable> parsed = CallParseCsv(text, threads);
    const auto p2 = Clock::now();
    OrDie(parsed.status());
    csv_sum = datapool::Checksum(text);
    const auto p3 = Clock::now();
    read_file_s = std::min(read_file_s, Seconds(p0, p1));
    parse_s = std::min(parse_s, Seconds(p1, p2));
    checksum_s = std::min(checksum_s, Seconds(p2, p3));
  }

  std::printf(
      "{\"cmd\": \"read\", \"rows\": %zu, \"dim\": %zu, \"bytes\": %zu, "
      "\"seconds\": %.6f, \"all_s\": %s, \"cpu_s\": %.6f, "
      "\"all_cpu_s\": %s, \"values_checksum\": \"%s\", "
      "\"names_labels_ok\": %s, \"read_file_s\": %.6f, \"parse_s\": %.6f, "
      "\"checksum_s\": %.6f, \"csv_checksum\": \"%s\", \"threads\": %d, "
      "\"threads_arg\": %s, \"peak_rss_kib\": %ld, "
      "\"peak_rss_with_text_kib\": %ld, \"ru_maxrss_kib\": %ld}\n",
      rows, dim, text.size(), totals[best], JsonList(totals).c_str(),
      cpus[best], JsonList(cpus).c_str(), values_sum.c_str(),
      expect ? (names_ok ? "true" : "false") : "null", read_file_s, parse_s,
      checksum_s, csv_sum.c_str(), threads, g_threads_arg ? "true" : "false",
      peak_read, PeakRssKiB(), MaxRssKiB());
  return 0;
}

int Commit(Args& args) {
  args.ExpectPositional(5);
  const std::string raw = args.Pos(0, "RAW");
  const size_t n = ParseCount(args.Pos(1, "N"), "N");
  const size_t d = ParseCount(args.Pos(2, "D"), "D");
  const std::string shared = args.Pos(3, "SHARED");
  const std::string pool = args.Pos(4, "POOL");
  args.CheckAllUsed();

  const EmbeddingTable table = MakeTable(raw, n, d);
  auto store = OrDie(datapool::PoolStore::Create({shared}));
  datapool::PoolMetadata meta;
  meta.dimension = d;
  meta.version = 1;
  meta.normalized = true;
  meta.created = meta.updated = absl::Now();
  const auto t0 = Clock::now();
  OrDie(store->Commit(pool, &meta, table, /*previous=*/nullptr,
                      /*keep_history=*/false));
  const auto t1 = Clock::now();
  std::printf(
      "{\"cmd\": \"commit\", \"rows\": %zu, \"dim\": %zu, \"seconds\": %.6f, "
      "\"csv_checksum\": \"%s\", \"peak_rss_kib\": %ld}\n",
      n, d, Seconds(t0, t1), meta.csv_checksum.c_str(), PeakRssKiB());
  return 0;
}

int Load(Args& args) {
  args.ExpectPositional(1);
  const std::string shared = args.Pos(0, "SHARED");
  const int reps = static_cast<int>(args.Int("reps", 1));
  args.CheckAllUsed();

  std::vector<double> loads, creates;
  size_t pools = 0, rows = 0;
  for (int r = 0; r < reps; ++r) {
    {
      auto store = OrDie(datapool::PoolStore::Create({shared}));
      std::vector<datapool::StoredPool> loaded;  // freed after the clock
      const auto t0 = Clock::now();
      const std::vector<std::string> names = OrDie(store->ListPoolNames());
      for (const std::string& name : names) {
        loaded.push_back(OrDie(store->Load(name)));
      }
      loads.push_back(Seconds(t0, Clock::now()));
      pools = names.size();
      rows = 0;
      for (const auto& p : loaded) rows += p.table.size();
    }
    datapool::PoolManager::Options options;
    options.shared_dir = shared;
    options.index_factory = datapool::FaissFlatIndex::Factory();
    const auto t0 = Clock::now();
    auto manager = OrDie(datapool::PoolManager::Create(options));
    creates.push_back(Seconds(t0, Clock::now()));
    if (manager->ListPools().size() != pools) Die("PoolManager lost a pool");
  }
  std::printf(
      "{\"cmd\": \"load\", \"pools\": %zu, \"rows\": %zu, "
      "\"store_load_s\": %.6f, \"store_load_all_s\": %s, "
      "\"manager_create_s\": %.6f, \"manager_create_all_s\": %s, "
      "\"peak_rss_kib\": %ld}\n",
      pools, rows, Min(loads), JsonList(loads).c_str(), Min(creates),
      JsonList(creates).c_str(), PeakRssKiB());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    Die("usage: datapool_csv_bench write|read|commit|load ... "
        "(see bench/csv_bench.cc)");
  }
  Args args(argc, argv);
  const std::string cmd = argv[1];
  if (cmd == "write") return Write(args);
  if (cmd == "read") return Read(args);
  if (cmd == "commit") return Commit(args);
  if (cmd == "load") return Load(args);
  Die("unknown subcommand " + cmd);
}
