#include "config/fields.hpp"

#include "common/overloaded.hpp"
#include "config/suggest.hpp"
#include "config/units.hpp"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <limits>

namespace hornbeam::config {
namespace {

YamlValueError at_node(const YAML::Node& node, std::string message) {
  const YAML::Mark mark = node.Mark();
  return {std::move(message), mark.line + 1, mark.column + 1};
}

std::string node_kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Null: return "an empty value";
    default: return "`" + node.Scalar() + "`";
  }
}

std::string resolve_path(const std::string& value, const std::string& base_dir) {
  if (value.empty() || value == "-" || base_dir.empty()) return value;
  const std::filesystem::path path(value);
  if (path.is_absolute()) return value;
  std::string joined = (std::filesystem::path(base_dir) / path).lexically_normal().string();
  if (joined.size() > 1 && joined.ends_with('/')) joined.pop_back();
  return joined;
}

void check_item(const TextCheck* check, std::string_view value) {
  if (check && !check->accepts(value))
    throw ValueError{std::string(check->expected), std::string(value)};
}

// The first comma of `text` outside an app factory's arguments (`/a=x:make(1, 'b,c')`), or npos.
std::size_t top_level_comma(std::string_view text) {
  int depth = 0;
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      if (c == '\\')
        ++i;
      else if (c == quote)
        quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      depth = std::max(0, depth - 1);
    } else if (c == ',' && depth == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

std::size_t first_comma(std::string_view text) { return text.find(','); }

// Gunicorn's worker classes (`-k gthread`, `-k uvicorn.workers.UvicornWorker`) given as
// `worker_class`: which of ours does the same.
std::string peer_worker_class_hint(std::string_view text) {
  if (text.find("Uvicorn") != std::string_view::npos ||
      text.find("uvicorn") != std::string_view::npos) {
    return " (Uvicorn's worker is `asgi` here)";
  }
  for (const std::string_view sync : {"sync", "gthread", "gevent", "eventlet", "tornado"}) {
    if (text == sync)
      return " (Gunicorn's `" + std::string(text) + "` is `wsgi` here; threads are `contexts`)";
  }
  return {};
}

// Comma-separated items, trimmed; `find_comma` says where an item ends.
std::vector<std::string> split_items(std::string_view text,
                                     std::size_t (*find_comma)(std::string_view)) {
  std::vector<std::string> items;
  while (true) {
    const auto comma = find_comma(text);
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) return items;
    text.remove_prefix(comma + 1);
  }
}

std::vector<std::string> split_commas(std::string_view text) {
  return split_items(text, first_comma);
}

template <class T>
void check_range(T value, T min, T max, const Field& field, std::string_view text) {
  if (value < min || value > max) throw ValueError{describe(field), std::string(text)};
}

// Mount entries are written `PREFIX=APP` or `PREFIX=APP@CLASS` on the command line.
Mount parse_mount_text(std::string_view text) {
  const std::string expected =
      "a mount as `PREFIX=module:callable` or `PREFIX=module:callable@asgi`";
  const auto equals = text.find('=');
  if (equals == std::string_view::npos) throw ValueError{expected, std::string(text)};
  Mount mount;
  mount.prefix = std::string(text.substr(0, equals));
  std::string_view app = text.substr(equals + 1);
  // The class follows the last `@` outside a factory's arguments (`create_app("a@b")@asgi`).
  const auto at_sign = app.rfind('@');
  const auto call_end = app.rfind(')');
  if (at_sign != std::string_view::npos &&
      (call_end == std::string_view::npos || at_sign > call_end)) {
    mount.worker_class = std::string(app.substr(at_sign + 1));
    app = app.substr(0, at_sign);
  }
  mount.app = std::string(app);
  if (!mount_prefix.accepts(mount.prefix) || !app_spec.accepts(mount.app) ||
      !(mount.worker_class.empty() || mount.worker_class == "wsgi" ||
        mount.worker_class == "asgi")) {
    throw ValueError{expected, std::string(text)};
  }
  return mount;
}

Mount parse_mount_yaml(const YAML::Node& node) {
  static const std::vector<std::string> keys = {"prefix", "app", "worker_class", "max_body_size",
                                                "timeout"};
  if (!node.IsMap()) {
    throw at_node(node, "expected a mapping with `prefix` and `app`, found " + node_kind(node));
  }
  Mount mount;
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    const YAML::Node& value = entry.second;
    if (!value.IsScalar()) {
      throw at_node(value, "mount `" + key + "`: expected a string, found " + node_kind(value));
    }
    const std::string text = value.Scalar();
    if (key == "prefix") {
      if (!mount_prefix.accepts(text)) {
        throw at_node(value, "mount `prefix`: expected " + std::string(mount_prefix.expected) +
                                 ", found `" + text + "`");
      }
      mount.prefix = text;
    } else if (key == "app") {
      if (!app_spec.accepts(text)) {
        throw at_node(value, "mount `app`: expected " + std::string(app_spec.expected) +
                                 ", found `" + text + "`");
      }
      mount.app = text;
    } else if (key == "worker_class") {
      if (text != "wsgi" && text != "asgi") {
        throw at_node(value,
                      "mount `worker_class`: expected one of `wsgi`, `asgi`, found `" + text + "`");
      }
      mount.worker_class = text;
    } else if (key == "max_body_size") {
      const auto size = parse_size(text);
      if (!size) {
        throw at_node(value,
                      "mount `max_body_size`: expected a size such as `64MiB`, `512K` or "
                      "`1048576`, found `" +
                          text + "`");
      }
      mount.max_body_size = *size;
    } else if (key == "timeout") {
      // The same range as the top-level `timeout`.
      const auto duration = parse_duration(text);
      if (!duration || *duration > std::chrono::hours(24)) {
        throw at_node(value,
                      "mount `timeout`: expected a duration such as `30`, `30s` or `500ms`, from "
                      "0s (none) to 24h, found `" +
                          text + "`");
      }
      mount.timeout = *duration;
    } else {
      throw at_node(entry.first, "unknown key `" + key + "` in a mount" + did_you_mean(key, keys));
    }
  }
  if (mount.prefix.empty()) throw at_node(node, "a mount needs a `prefix` (e.g. `prefix: /api`)");
  if (mount.app.empty()) throw at_node(node, "a mount needs an `app` (e.g. `app: api:app`)");
  return mount;
}

}  // namespace

std::string describe(const Field& field) {
  return std::visit(
      Overloaded{
          [](const IntegerField& f) {
            if (f.octal) return std::string("an octal mode such as `0o022` or `0022`");
            return "an integer from " + std::to_string(f.min) + " to " + std::to_string(f.max);
          },
          [](const SizeField& f) {
            std::string text = "a size such as `64MiB`, `512K` or `1048576`";
            if (f.min > 0 || f.max < std::numeric_limits<std::uint64_t>::max()) {
              text += ", from " + format_size(f.min) + " to " + format_size(f.max);
            }
            return text;
          },
          [](const DurationField& f) {
            return "a duration such as `30`, `30s` or `500ms`, from " + format_duration(f.min) +
                   " to " + format_duration(f.max);
          },
          [](const BoolField&) { return std::string("`true` or `false`"); },
          [](const TextField& f) {
            return f.check ? std::string(f.check->expected) : std::string("a string");
          },
          [](const ChoiceField& f) {
            std::string text = "one of ";
            for (std::size_t i = 0; i < f.choices.size(); ++i) {
              text += (i ? ", `" : "`") + std::string(f.choices[i]) + "`";
            }
            return text;
          },
          [](const ListField& f) {
            return "a list of " +
                   (f.check ? std::string(f.check->expected) : std::string("strings"));
          },
          [](const MountsField&) {
            return std::string(
                "a list of mappings with `prefix`, `app` and optional `worker_class`, "
                "`max_body_size`, `timeout`");
          },
      },
      field);
}

std::string format_value(const Field& field, Config& config) {
  return std::visit(
      Overloaded{
          [&](const IntegerField& f) {
            if (!f.octal) return std::to_string(f.ref(config));
            char text[16];
            std::snprintf(text, sizeof text, "0o%03llo",
                          static_cast<unsigned long long>(f.ref(config)));
            return std::string(text);
          },
          [&](const SizeField& f) { return format_size(f.ref(config)); },
          [&](const DurationField& f) { return format_duration(f.ref(config)); },
          [&](const BoolField& f) { return std::string(f.ref(config) ? "true" : "false"); },
          [&](const TextField& f) { return f.ref(config); },
          [&](const ChoiceField& f) { return f.ref(config); },
          [&](const ListField& f) {
            std::string text;
            for (const auto& item : f.ref(config)) text += (text.empty() ? "" : ",") + item;
            return text;
          },
          [&](const MountsField& f) {
            std::string text;
            for (const auto& m : f.ref(config)) {
              text += (text.empty() ? "" : ",") + m.prefix + "=" + m.app +
                      (m.worker_class.empty() ? "" : "@" + m.worker_class);
            }
            return text;
          },
      },
      field);
}

bool is_flag(const Field& field) { return std::holds_alternative<BoolField>(field); }

bool is_repeatable(const Field& field) {
  return std::holds_alternative<ListField>(field) || std::holds_alternative<MountsField>(field);
}

void set_from_text(const Field& field, Config& config, std::string_view text, bool append) {
  const auto invalid = [&] { return ValueError{describe(field), std::string(text)}; };
  std::visit(Overloaded{
                 [&](const IntegerField& f) {
                   const auto value = f.octal ? parse_octal(text) : parse_integer(text);
                   if (!value) throw invalid();
                   check_range(*value, f.min, f.max, field, text);
                   f.ref(config) = *value;
                 },
                 [&](const SizeField& f) {
                   const auto value = parse_size(text);
                   if (!value) throw invalid();
                   check_range(*value, f.min, f.max, field, text);
                   f.ref(config) = *value;
                 },
                 [&](const DurationField& f) {
                   const auto value = parse_duration(text);
                   if (!value) throw invalid();
                   check_range(*value, f.min, f.max, field, text);
                   f.ref(config) = *value;
                 },
                 [&](const BoolField& f) {
                   const auto value = parse_bool(text);
                   if (!value) throw invalid();
                   f.ref(config) = *value;
                 },
                 [&](const TextField& f) {
                   check_item(f.check, text);
                   f.ref(config) = std::string(text);
                 },
                 [&](const ChoiceField& f) {
                   for (const auto choice : f.choices) {
                     if (choice == text) {
                       f.ref(config) = std::string(text);
                       return;
                     }
                   }
                   const bool worker_class =
                       std::find(f.choices.begin(), f.choices.end(), "wsgi") != f.choices.end();
                   throw ValueError{
                       describe(field) + (worker_class ? peer_worker_class_hint(text) : ""),
                       std::string(text)};
                 },
                 [&](const ListField& f) {
                   const auto items = split_commas(text);
                   for (const auto& item : items) check_item(f.check, item);
                   auto& list = f.ref(config);
                   if (!append) list.clear();
                   list.insert(list.end(), items.begin(), items.end());
                 },
                 [&](const MountsField& f) {
                   auto& mounts = f.ref(config);
                   if (!append) mounts.clear();
                   for (const auto& item : split_items(text, top_level_comma)) {
                     mounts.push_back(parse_mount_text(item));
                   }
                 },
             },
             field);
}

void set_from_yaml(const Field& field, Config& config, const YAML::Node& node,
                   const std::string& base_dir) {
  const auto scalar_text = [&](const YAML::Node& item) -> std::string {
    if (item.IsScalar()) return item.Scalar();
    throw at_node(item, "expected " + describe(field) + ", found " + node_kind(item));
  };
  const auto set_scalar = [&](const YAML::Node& item) {
    try {
      set_from_text(field, config, scalar_text(item), false);
    } catch (const ValueError& e) {
      throw at_node(item, "expected " + e.expected + ", found `" + e.found + "`");
    }
  };
  std::visit(
      Overloaded{
          [&](const TextField& f) {
            // `pidfile:` or `pidfile: null` means "none", the same as an empty string.
            if (node.IsNull()) {
              f.ref(config).clear();
              return;
            }
            set_scalar(node);
            if (f.is_path) f.ref(config) = resolve_path(f.ref(config), base_dir);
          },
          [&](const ListField& f) {
            std::vector<std::string> items;
            if (node.IsScalar()) {
              items.push_back(node.Scalar());
            } else if (node.IsSequence()) {
              for (const auto& item : node) items.push_back(scalar_text(item));
            } else if (!node.IsNull()) {
              throw at_node(node, "expected " + describe(field) + ", found " + node_kind(node));
            }
            for (std::size_t i = 0; i < items.size(); ++i) {
              const YAML::Node& item = node.IsSequence() ? node[i] : node;
              if (f.check && !f.check->accepts(items[i])) {
                throw at_node(item, "expected " + std::string(f.check->expected) + ", found `" +
                                        items[i] + "`");
              }
              if (f.is_path) items[i] = resolve_path(items[i], base_dir);
            }
            f.ref(config) = std::move(items);
          },
          [&](const MountsField& f) {
            std::vector<Mount> mounts;
            if (node.IsSequence()) {
              for (const auto& item : node) mounts.push_back(parse_mount_yaml(item));
            } else if (!node.IsNull()) {
              throw at_node(node, "expected " + describe(field) + ", found " + node_kind(node));
            }
            f.ref(config) = std::move(mounts);
          },
          [&](const auto&) { set_scalar(node); },
      },
      field);
}

}  // namespace hornbeam::config
