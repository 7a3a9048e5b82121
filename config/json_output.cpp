#include "config/json_output.hpp"

#include "common/overloaded.hpp"
#include "config/settings.hpp"
#include "config/units.hpp"

#include <nlohmann/json.hpp>

namespace hornbeam::config {
namespace {

// Durations are seconds in JSON, as they are in YAML without a unit.
nlohmann::ordered_json seconds(Duration duration) {
  const auto ms = duration.count();
  if (ms % 1000 == 0) return ms / 1000;
  return static_cast<double>(ms) / 1000.0;
}

nlohmann::ordered_json value_of(const Field& field, Config& config) {
  return std::visit(
      Overloaded{
          [&](const DurationField& f) -> nlohmann::ordered_json { return seconds(f.ref(config)); },
          [&](const MountsField& f) -> nlohmann::ordered_json {
            auto mounts = nlohmann::ordered_json::array();
            for (const auto& mount : f.ref(config)) {
              nlohmann::ordered_json entry = {{"prefix", mount.prefix},
                                              {"app", mount.app},
                                              {"worker_class", mount.worker_class}};
              if (mount.max_body_size) entry["max_body_size"] = format_size(*mount.max_body_size);
              if (mount.timeout) entry["timeout"] = seconds(*mount.timeout);
              mounts.push_back(std::move(entry));
            }
            return mounts;
          },
          [&](const IntegerField& f) -> nlohmann::ordered_json {
            // JSON has no octal: a umask prints as its YAML spelling so that it
            // reloads the same.
            if (f.octal) return format_value(field, config);
            return f.ref(config);
          },
          [&](const auto& f) -> nlohmann::ordered_json { return f.ref(config); },
      },
      field);
}

// A text setting left unset whose check refuses the empty string (`app` when only `mounts`
// serve): writing it as "" would not load back, and leaving it out means the same.
bool is_unset_required_text(const Field& field, Config& config) {
  const auto* text = std::get_if<TextField>(&field);
  return text && text->check && text->ref(config).empty() && !text->check->accepts("");
}

}  // namespace

std::string to_json_text(const Config& config, int indent) {
  Config copy = config;  // fields are reached through non-const references
  nlohmann::ordered_json root = nlohmann::ordered_json::object();
  for (const auto& setting : settings()) {
    if (is_unset_required_text(setting.field, copy)) continue;
    const auto value = value_of(setting.field, copy);
    if (setting.section().empty()) {
      root[std::string(setting.key)] = value;
    } else {
      root[std::string(setting.section())][std::string(setting.leaf())] = value;
    }
  }
  return root.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace hornbeam::config
