#include "common/args.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace datapool {

void ArgParser::AddString(const std::string& name, std::string* value,
                          const std::string& help) {
  Flag flag;
  flag.string_value = value;
  flag.help = help;
  flags_[name] = flag;
}

void ArgParser::AddList(const std::string& name,
                        std::vector<std::string>* values,
                        const std::string& help) {
  Flag flag;
  flag.list_value = values;
  flag.help = help;
  flags_[name] = flag;
}

void ArgParser::AddBool(const std::string& name, bool* value,
                        const std::string& help) {
  Flag flag;
  flag.bool_value = value;
  flag.help = help;
  flags_[name] = flag;
}

absl::StatusOr<std::vector<std::string>> ArgParser::Parse(
    const std::vector<std::string>& args) {
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional.insert(positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string inline_value;
    bool has_inline = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
      has_inline = true;
    }
    auto it = flags_.find(name);
    if (it == flags_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    Flag& flag = it->second;
    flag.set = true;
    if (flag.bool_value != nullptr) {
      if (has_inline) {
        if (inline_value != "true" && inline_value != "false") {
          return absl::InvalidArgumentError(absl::StrCat(
              "flag --", name, " takes no value or true/false, got '",
              inline_value, "'"));
        }
        *flag.bool_value = inline_value == "true";
      } else {
        *flag.bool_value = true;
      }
      continue;
    }
    std::string value;
    if (has_inline) {
      value = inline_value;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("flag --", name, " needs a value"));
    }
    if (flag.list_value != nullptr) {
      flag.list_value->push_back(std::move(value));
    } else {
      *flag.string_value = std::move(value);
    }
  }
  return positional;
}

std::string ArgParser::EnvName(const std::string& prefix,
                               const std::string& flag) {
  std::string name = prefix;
  for (char c : flag) {
    name.push_back(
        c == '-' ? '_' : absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

absl::Status ArgParser::ApplyEnvironment(
    const std::string& prefix,
    const std::function<const char*(const char*)>& getenv) {
  for (auto& [name, flag] : flags_) {
    if (flag.set) continue;
    const std::string var = EnvName(prefix, name);
    const char* value = getenv ? getenv(var.c_str()) : std::getenv(var.c_str());
    if (value == nullptr) continue;
    const std::string v = value;
    flag.set = true;
    if (flag.bool_value != nullptr) {
      if (v == "true" || v == "1" || v == "yes") {
        *flag.bool_value = true;
      } else if (v == "false" || v == "0" || v == "no" || v.empty()) {
        *flag.bool_value = false;
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            var, " must be true/1/yes or false/0/no, got '", v, "'"));
      }
    } else if (flag.list_value != nullptr) {
      flag.list_value->push_back(v);
    } else {
      *flag.string_value = v;
    }
  }
  return absl::OkStatus();
}

bool ArgParser::WasSet(const std::string& name) const {
  auto it = flags_.find(name);
  return it != flags_.end() && it->second.set;
}

std::string ArgParser::Help() const {
  std::string out;
  for (const auto& [name, flag] : flags_) {
    absl::StrAppend(&out, "  --", name, flag.bool_value ? "" : " VALUE",
                    "\n      ", flag.help);
    if (flag.string_value != nullptr && !flag.string_value->empty()) {
      absl::StrAppend(&out, " (default: ", *flag.string_value, ")");
    }
    out += "\n";
  }
  return out;
}

}  // namespace datapool
