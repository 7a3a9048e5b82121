#pragma once

// The kinds of value a setting can hold. A setting names its field by a function that returns
// a reference into Config (built from a member-pointer path), plus the bounds or choices that
// validate it. Everything a setting can do (parse text or YAML, print JSON, describe itself)
// is implemented once per kind in fields.cpp.

#include "config/checks.hpp"
#include "config/config.hpp"

#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace YAML {
class Node;
}

namespace hornbeam::config {

template <class T>
using FieldRef = T& (*)(Config&);

// `at<&Config::limits, &Limits::max_body_size>` is a FieldRef to config.limits.max_body_size.
template <auto... Members>
auto& at(Config& config) {
  return (config.*....*Members);
}

struct IntegerField {
  FieldRef<std::int64_t> ref;
  std::int64_t min;
  std::int64_t max;
  bool octal = false;  // umask-style: 0022, 0o22, 22 are all octal
};

struct SizeField {
  FieldRef<std::uint64_t> ref;
  std::uint64_t min;
  std::uint64_t max;
};

struct DurationField {
  FieldRef<Duration> ref;
  Duration min;
  Duration max;
};

struct BoolField {
  FieldRef<bool> ref;
};

struct TextField {
  FieldRef<std::string> ref;
  const TextCheck* check = nullptr;
  bool is_path = false;  // relative paths in a config file are relative to that file
};

struct ChoiceField {
  FieldRef<std::string> ref;
  std::span<const std::string_view> choices;
};

struct ListField {
  FieldRef<std::vector<std::string>> ref;
  const TextCheck* check = nullptr;  // applied to each item
  bool is_path = false;
};

struct MountsField {
  FieldRef<std::vector<Mount>> ref;
};

using Field = std::variant<IntegerField, SizeField, DurationField, BoolField, TextField,
                           ChoiceField, ListField, MountsField>;

// A value that does not fit its field. The caller adds where it came from.
struct ValueError {
  std::string expected;  // "an integer from 1 to 1024"
  std::string found;     // the offending text, as given
};

// A value in a YAML file that does not fit, with the position of the offending node.
struct YamlValueError {
  std::string message;  // "expected ..., found ..." or a mount sub-key problem
  int line;             // 1-based
  int column;           // 1-based
};

// Sets the field from one text value (CLI, environment). A list field takes comma-separated
// items and appends them when `append` is true (repeated flags). Throws ValueError.
void set_from_text(const Field& field, Config& config, std::string_view text, bool append);

// Sets the field from a YAML node. Throws YamlValueError. `base_dir` resolves relative paths.
void set_from_yaml(const Field& field, Config& config, const YAML::Node& node,
                   const std::string& base_dir);

// What the field accepts, for errors and docs: "an integer from 1 to 1024".
std::string describe(const Field& field);

// The field's value in `config` as written in a config file: "64MiB", "30s", "a,b", "0o022".
std::string format_value(const Field& field, Config& config);

// True for fields given on the command line without a value (`--reuse-port`).
bool is_flag(const Field& field);
// True for fields whose CLI flag may be repeated (`-b A -b B`).
bool is_repeatable(const Field& field);

}  // namespace hornbeam::config
