// Checking and reading the CLI's candidates, queries and images.
#include "client/cli_input.h"

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/csv_codec.h"
#include "common/status_macros.h"
#include "common/utf8.h"

namespace datapool {
namespace cli {
namespace {

// InvalidArgument for the first filename of `table` that is not UTF-8.
absl::Status CheckUtf8Filenames(const std::string& path,
                                const EmbeddingTable& table) {
  for (size_t i = 0; i < table.size(); ++i) {
    if (!IsValidUtf8(table.filenames[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": row ", i + 1, ": filename '",
          EscapeInvalidUtf8(table.filenames[i]),
          "' is not valid UTF-8 (pools, responses and CSVs hold UTF-8 "
          "names)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status TakeExtraPaths(const std::vector<std::string>& args,
                            Flags* flags) {
  if (args.empty()) return absl::OkStatus();
  const bool inputs = !flags->inputs.empty();
  const bool uploads = !flags->uploads.empty();
  if (inputs == uploads) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", args[0], "'"));
  }
  auto& list = inputs ? flags->inputs : flags->uploads;
  list.insert(list.end(), args.begin(), args.end());
  return absl::OkStatus();
}

absl::Status CheckCandidates(absl::string_view command, absl::string_view what,
                             const Flags& flags) {
  const int sources = !flags.embeddings.empty() + !flags.inputs.empty() +
                      !flags.uploads.empty();
  if (sources == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, " needs ", what,
                     ": --embeddings FILE.csv, --input PATH... or "
                     "--upload PATH..."));
  }
  if (!flags.embeddings.empty() && sources > 1) {
    return absl::InvalidArgumentError(
        "--embeddings cannot be combined with --input/--upload");
  }
  return absl::OkStatus();
}

absl::StatusOr<ImageRequest> BuildImageRequest(const Flags& flags) {
  ImageRequest request;
  request.input_paths = flags.inputs;
  if (flags.uploads.empty()) return request;
  ASSIGN_OR_RETURN(std::vector<LocalImage> local,
                   ListLocalImages(flags.uploads));
  for (const LocalImage& image : local) {
    if (!IsValidUtf8(image.filename)) {
      return absl::InvalidArgumentError(
          absl::StrCat("upload '", EscapeInvalidUtf8(image.filename),
                       "': the name is not valid UTF-8; rename the file "
                       "(pools, responses and CSVs hold UTF-8 names)"));
    }
    if (!std::ifstream(image.path, std::ios::binary).is_open()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read ", image.path));
    }
  }
  request.uploads = std::move(local);
  return request;
}

absl::StatusOr<Candidates> ReadCandidates(const Flags& flags,
                                          bool keep_columns) {
  Candidates candidates;
  if (flags.embeddings.empty()) {
    ASSIGN_OR_RETURN(candidates.images, BuildImageRequest(flags));
  } else if (keep_columns) {
    ASSIGN_OR_RETURN(CsvWithColumns csv,
                     ReadCsvFileWithColumns(flags.embeddings));
    RETURN_IF_ERROR(CheckUtf8Filenames(flags.embeddings, csv.table));
    candidates.columns = CandidateColumnFile(flags.embeddings, &csv);
    candidates.table = std::move(csv.table);
  } else {
    ASSIGN_OR_RETURN(candidates.table, ReadCsvFile(flags.embeddings));
    RETURN_IF_ERROR(CheckUtf8Filenames(flags.embeddings, *candidates.table));
  }
  return candidates;
}

}  // namespace cli
}  // namespace datapool
