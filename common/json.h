// Minimal JSON: a writer for the CLI's --json output and the pool metadata
// file, and a parser for reading that metadata back.
#ifndef DATAPOOL_COMMON_JSON_H_
#define DATAPOOL_COMMON_JSON_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace datapool {

// Builds JSON text; commas are placed automatically. Not thread-safe.
class JsonWriter {
 public:
  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  // The key of the next value inside an object.
  JsonWriter& Key(absl::string_view key);
  JsonWriter& String(absl::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& UInt(uint64_t value);
  // Non-finite values are written as null.
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  const std::string& str() const { return out_; }

 private:
  JsonWriter& Open(char c);
  JsonWriter& Close(char c);
  void BeforeValue();

  std::string out_;
  // One entry per open container: whether it has a value yet.
  std::vector<bool> has_value_;
  bool after_key_ = false;
};

// A parsed JSON value. A plain value type.
struct JsonValue {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> array;
  std::vector<std::pair<std::string, JsonValue>> object;

  // The member named `key` of an object, or nullptr.
  const JsonValue* Find(absl::string_view key) const;
};

// Parses one JSON document; InvalidArgument names the byte offset.
absl::StatusOr<JsonValue> ParseJson(absl::string_view text);

}  // namespace datapool

#endif  // DATAPOOL_COMMON_JSON_H_
