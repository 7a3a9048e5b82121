#pragma once

// The settings table: every setting of hornbeam, declared once. YAML loading, environment
// overrides, the command line, validation, --print-config and docs/settings.md all read it.

#include "config/fields.hpp"

#include <span>
#include <string>
#include <string_view>

namespace hornbeam::config {

struct Setting {
  std::string_view key;  // YAML path, "." between levels: "limits.max_body_size"
  std::string_view doc;  // one line for --help and the docs
  Field field;
  std::string_view short_flag = {};   // "w" for -w
  std::string_view default_doc = {};  // for defaults that depend on the machine

  std::string flag() const;          // "limits-max-body-size" (for --limits-max-body-size)
  std::string env() const;           // "HORNBEAM_LIMITS_MAX_BODY_SIZE"
  std::string_view section() const;  // "limits", or "" for top-level keys
  std::string_view leaf() const;     // "max_body_size"
  std::string default_text() const;  // "64KiB", "30s", or default_doc when set
};

struct Section {
  std::string_view name;  // "limits"
  std::string_view doc;
};

std::span<const Setting> settings();
std::span<const Section> sections();

// Null when no setting has that key.
const Setting* find_setting(std::string_view key);

}  // namespace hornbeam::config
