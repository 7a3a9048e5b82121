#include "config/json_output.hpp"

#include "common/overloaded.hpp"
#include "config/settings.hpp"
#include "config/units.hpp"

#include <nlohmann/json.hpp>

namespace hornbeam::config {
namespace {

nlohmann::ordered_json value_of(const Field& field, Config& config) {
  return std::visit(Overloaded{
                        [&](const DurationField& f) -> nlohmann::ordered_json {
                          const auto ms = f.ref(config).count();
                          if (ms % 1000 == 0) return ms / 1000;
                          return static_cast<double>(ms) / 1000.0;
                        },
                        [&](const MountsField& f) -> nlohmann::ordered_json {
                          auto mounts = nlohmann::ordered_json::array();
                          for (const auto& mount : f.ref(config)) {
                            nlohmann::ordered_json entry = {{"prefix", mount.prefix},
                                                            {"app", mount.app},
                                                            {"worker_class", mount.worker_class}};
                            if (mount.max_body_size)
                              entry["max_body_size"] = format_size(*mount.max_body_size);
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

}  // namespace

std::string to_json_text(const Config& config, int indent) {
  Config copy = config;  // fields are reached through non-const references
  nlohmann::ordered_json root = nlohmann::ordered_json::object();
  for (const auto& setting : settings()) {
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
