#include "common/json_text.h"

#include <functional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace datapool {
namespace {

// A parser callback that finds the first key given twice in one object,
// with its path. Not thread-safe.
class DuplicateKeyFinder {
 public:
  bool operator()(int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        BeginElement();
        frames_.push_back(Frame{event == Json::parse_event_t::object_start});
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        if (!frames_.empty()) frames_.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!frames_.empty() && parsed.is_string()) {
          Frame& frame = frames_.back();
          frame.key = parsed.get<std::string>();
          if (!frame.keys.insert(frame.key).second && first_.empty()) {
            first_ = Path();
          }
        }
        break;
      case Json::parse_event_t::value:
        BeginElement();
        break;
    }
    return true;  // keep everything
  }

  const std::string& first() const { return first_; }

 private:
  struct Frame {
    bool object = false;
    // An array's elements so far; an object's keys so far and its last.
    size_t elements = 0;
    std::set<std::string> keys = {};
    std::string key = {};
  };

  // A value starts: in an array, it is the next element.
  void BeginElement() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().elements;
  }

  std::string Path() const {
    std::string path;
    for (const Frame& frame : frames_) {
      if (!frame.object) {
        absl::StrAppend(&path, "[", frame.elements - 1, "]");
      } else {
        absl::StrAppend(&path, path.empty() ? "" : ".", frame.key);
      }
    }
    return path;
  }

  std::vector<Frame> frames_;
  std::string first_;
};

// The library's message without its "[json.exception.parse_error.101] ".
absl::string_view Reason(const nlohmann::json::exception& e) {
  absl::string_view what = e.what();
  if (absl::string_view::size_type end = what.find("] ");
      what.substr(0, 1) == "[" && end != absl::string_view::npos) {
    what.remove_prefix(end + 2);
  }
  return what;
}

}  // namespace

absl::StatusOr<Json> ParseJson(absl::string_view text,
                               std::string* duplicate_key) {
  try {
    if (duplicate_key == nullptr) return Json::parse(text.begin(), text.end());
    DuplicateKeyFinder finder;
    Json value = Json::parse(text.begin(), text.end(), std::ref(finder));
    *duplicate_key = finder.first();
    return value;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("JSON: ", Reason(e)));
  }
}

std::string JsonText(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace datapool
