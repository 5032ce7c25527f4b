// How `datapool select` ranks its candidates: --strategy NAME and
// --selection-config FILE.json (Lightly's selection-config layout), mapped
// to the request's SelectionConfig. Errors are InvalidArgument (usage
// errors, exit 1), their message naming the flag and, for the file, the
// JSON path of what is wrong ("--selection-config
// strategies[1].strategy.type: unknown strategy 'BALANCE' ...").
#ifndef DATAPOOL_CLIENT_CLI_SELECTION_CONFIG_H_
#define DATAPOOL_CLIENT_CLI_SELECTION_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "datapool/v1/datapool.pb.h"

namespace datapool {
namespace cli {

// --strategy: "typical" is the server's default (nullopt: the request's
// config stays unset); "diversity" is one DIVERSITY objective on the
// embeddings, plain greedy k-center.
absl::StatusOr<std::optional<v1::SelectionConfig>> ParseStrategy(
    absl::string_view name);

// A SIMILARITY strategy's query_embeddings: a lightly CSV that
// LoadQueryEmbeddings reads into the objective's query. A plain value type.
struct QueryEmbeddingsFile {
  // The objective's index in SelectionConfigFile::config.
  int objective = 0;
  // As given: relative to the current directory.
  std::string path;
  // Where the file named it: "strategies[1].strategy.query_embeddings".
  std::string json_path;
};

// A --selection-config file, mapped. A plain value type.
struct SelectionConfigFile {
  v1::SelectionConfig config;
  // A DIVERSITY strategy's stopping_condition_minimum_distance: the
  // selection's min_distance.
  std::optional<double> min_distance;
  // Where the file gave it: "strategies[0].strategy.
  // stopping_condition_minimum_distance".
  std::string min_distance_path;
  // The query CSVs still to read, in file order.
  std::vector<QueryEmbeddingsFile> query_files = {};
};

// The text of a --selection-config file:
//   {"strategies": [{"input": {"type": "EMBEDDINGS"},
//                    "strategy": {"type": "DIVERSITY", "strength": 1}}, ...]}
// Inputs EMBEDDINGS, RANDOM (random_seed, random_distribution "uniform"),
// LABELS, METADATA (key: a candidate column, INPUT_COLUMN) and SCORES
// (task: the prefix of the class-probability columns task_0, task_1, ...;
// score: uncertainty_entropy, uncertainty_margin or
// uncertainty_least_confidence); strategies DIVERSITY
// (stopping_condition_minimum_distance), TYPICALITY (neighbors,
// min_typicality), WEIGHTS, BALANCE (target {"<label>": share} or distribution
// "uniform"), THRESHOLD (threshold and operation SMALLER, SMALLER_EQUAL, BIGGER
// or BIGGER_EQUAL, both required) and SIMILARITY (query_tag_name: a pool, or
// query_embeddings: a CSV, see LoadQueryEmbeddings), each with an optional
// strength; type, score and operation names in any case. Unknown keys and
// types, values of the wrong kind and text that is not JSON are refused.
// Which input goes with which strategy is the server's to check. Reads no
// file.
absl::StatusOr<SelectionConfigFile> ParseSelectionConfig(
    absl::string_view json);

// Reads each query_files CSV (ReadCsvFile; relative to the current
// directory) into its objective's query: dimension, filenames, values.
// Errors name the JSON path and the file: NotFound / PermissionDenied for a
// file that cannot be read, InvalidArgument for its content (a CSV error
// with its line, no rows, a filename that is not UTF-8).
absl::Status LoadQueryEmbeddings(SelectionConfigFile* file);

// Puts the file's config into `params`, and its minimum distance unless
// --min-distance (`min_distance_flag`, as given; "" when not) says
// otherwise: then InvalidArgument naming both.
absl::Status ApplySelectionConfig(const SelectionConfigFile& file,
                                  absl::string_view min_distance_flag,
                                  v1::SelectionParams* params);

}  // namespace cli
}  // namespace datapool

#endif  // DATAPOOL_CLIENT_CLI_SELECTION_CONFIG_H_
