#include "config/loader.hpp"

#include "common/bind_address.hpp"

#include "config/tls_context.hpp"

#include "config/settings.hpp"
#include "config/suggest.hpp"

#include <yaml-cpp/yaml.h>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

extern char** environ;

namespace hornbeam::config {
namespace {

std::string join_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += (text.empty() ? "" : "\n") + line;
  return text;
}

// Applies the sources one after the other, remembering where each setting came from so that
// later checks can point at it.
class Loader {
 public:
  explicit Loader(const Sources& sources) : sources_(sources) {}

  Config run() {
    if (!sources_.config_file.empty()) apply_file(sources_.config_file);
    apply_environment();
    apply_command_line();
    apply_port_variable();
    if (problems_.empty()) finish();
    if (!problems_.empty()) throw ConfigError(problems_);
    return config_;
  }

 private:
  void apply_file(const std::string& path) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
      problems_.push_back(path + ": cannot read the config file: " + std::strerror(errno));
      return;
    } catch (const YAML::ParserException& e) {
      problems_.push_back(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                          std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
      return;
    }
    file_ = path;
    base_dir_ = std::filesystem::absolute(path).parent_path().lexically_normal().string();
    if (root.IsNull()) return;  // an empty file is a valid, empty config
    if (!root.IsMap()) {
      report(root, "expected a mapping of settings (`key: value` lines)");
      return;
    }
    apply_mapping(root, "");
  }

  // `section` is "" for the top level, else e.g. "limits".
  void apply_mapping(const YAML::Node& map, std::string_view section) {
    std::set<std::string> seen;
    for (const auto& entry : map) {
      const YAML::Node& key_node = entry.first;
      const std::string name = key_node.Scalar();
      const std::string key = section.empty() ? name : std::string(section) + "." + name;
      if (!seen.insert(name).second) {
        report(key_node, "`" + key + "` is set twice in this mapping");
        continue;
      }
      if (section.empty() && is_section(name)) {
        if (entry.second.IsMap()) {
          apply_mapping(entry.second, name);
        } else if (!entry.second.IsNull()) {
          report(entry.second, "`" + key + "`: expected a mapping of " + key + ".* settings");
        }
        continue;
      }
      const Setting* setting = find_setting(key);
      if (!setting) {
        report(key_node, "unknown key `" + key + "`" + suggestion_for_key(name, section));
        continue;
      }
      try {
        set_from_yaml(setting->field, config_, entry.second, base_dir_);
        origins_[std::string(setting->key)] = position(entry.second);
      } catch (const YamlValueError& e) {
        problems_.push_back(file_ + ":" + std::to_string(e.line) + ":" + std::to_string(e.column) +
                            ": `" + key + "`: " + e.message);
      }
    }
  }

  void apply_environment() {
    for (const auto& [name, value] : sources_.environment) {
      if (!name.starts_with("HORNBEAM_") || name == config_file_variable) continue;
      const Setting* setting = nullptr;
      for (const auto& candidate : settings()) {
        if (candidate.env() == name) setting = &candidate;
      }
      if (!setting) {
        std::vector<std::string> names = {config_file_variable};
        for (const auto& candidate : settings()) names.push_back(candidate.env());
        problems_.push_back("environment: unknown variable " + name + did_you_mean(name, names));
        continue;
      }
      set_text(*setting, value, false, "environment " + name);
    }
  }

  void apply_command_line() {
    for (const auto& given : sources_.command_line) {
      bool append = false;
      for (const auto& value : given.values) {
        set_text(*given.setting, value, append, "option --" + given.setting->flag());
        append = true;
      }
    }
  }

  void set_text(const Setting& setting, const std::string& text, bool append,
                const std::string& origin) {
    try {
      set_from_text(setting.field, config_, text, append);
      origins_[std::string(setting.key)] = origin;
    } catch (const ValueError& e) {
      problems_.push_back(origin + ": expected " + e.expected + ", found `" + e.found + "`");
    }
  }

  // $PORT, which Heroku, Cloud Run, Render and the like set for the process to listen on,
  // makes the default `bind` 0.0.0.0:$PORT, as in Gunicorn. Any source's `bind` wins.
  void apply_port_variable() {
    const auto port = sources_.environment.find(port_variable);
    if (port == sources_.environment.end() || origins_.count("bind")) return;
    const auto address = BindAddress::parse("0.0.0.0:" + port->second);
    if (!address || address->port == 0) {
      problems_.push_back(std::string("environment ") + port_variable +
                          ": expected a port number from 1 to 65535, found `" + port->second + "`");
      return;
    }
    config_.bind = {address->to_string()};
    origins_["bind"] = std::string("environment ") + port_variable;
  }

  // Checks that need the whole configuration, or the machine.
  void finish() {
    if (sources_.require_app && config_.app.empty() && config_.mounts.empty()) {
      problems_.push_back(
          "no app given: name it as `module:callable` on the command line "
          "(`hornbeam-arbiter myproject.wsgi:application`), as `app:` in the config file, "
          "or in HORNBEAM_APP (or serve apps under `mounts`)");
    }
    make_paths_absolute();
    check_binds();
    check_mounts();
    check_tls();
    if (config_.reload.enabled) {
      for (const auto& path : config_.reload.paths) check_directory("reload_paths", path);
    }
    check_directory("chdir", config_.chdir);
    if (!config_.venv.empty()) check_directory("venv", config_.venv);
    if (!config_.user.empty() && !is_number(config_.user) && !getpwnam(config_.user.c_str())) {
      problems_.push_back(origin("user") + "`user`: no such user `" + config_.user + "`");
    }
    if (!config_.group.empty() && !is_number(config_.group) && !getgrnam(config_.group.c_str())) {
      problems_.push_back(origin("group") + "`group`: no such group `" + config_.group + "`");
    }
    if (config_.context_mode == "owngil" && !python_has_own_gil()) {
      problems_.push_back(origin("context_mode") +
                          "`context_mode`: `owngil` needs Python 3.12 or newer; this build embeds "
                          "Python " HORNBEAM_PYTHON_VERSION);
    }
  }

  // One address given twice (`https://` or not, as written or as parsed) would fail to bind
  // with "Address already in use", which sends the reader looking for another process.
  void check_binds() {
    std::set<std::string> seen;
    for (const auto& entry : config_.bind) {
      const auto address = BindAddress::parse(entry);
      if (!address) continue;  // refused with its own message
      if (address->kind == BindAddress::Kind::tcp && address->port == 0) continue;  // any port
      const std::string bind = address->to_string();
      if (!seen.insert(bind).second)
        problems_.push_back(origin("bind") + "`bind`: " + bind + " is given twice");
    }
  }

  // The files are judged by building the context the workers will build.
  void check_tls() {
    if (!serves_tls(config_)) return;
    if (config_.tls.certfile.empty()) {
      problems_.push_back(origin("bind") +
                          "`bind`: `https://` binds need `tls.certfile` (and "
                          "`tls.keyfile` unless the key is in that file)");
      return;
    }
    try {
      make_tls_context(config_.tls, config_.http2.enabled);
    } catch (const TlsSettingError& e) {
      problems_.push_back(origin(e.key) + e.what());
    } catch (const std::exception& e) {
      problems_.push_back(e.what());
    }
  }

  void check_mounts() {
    std::set<std::string> prefixes;
    for (auto& mount : config_.mounts) {
      if (mount.worker_class.empty()) mount.worker_class = config_.worker_class;
      if (!prefixes.insert(mount.prefix).second) {
        problems_.push_back(origin("mounts") + "`mounts`: two mounts at `" + mount.prefix + "`");
      }
      if (mount.timeout && mount.worker_class == "asgi") {
        problems_.push_back(
            origin("mounts") + "`mounts`: the mount at `" + mount.prefix +
            "` is ASGI: `timeout` is for WSGI mounts (an ASGI app's requests share the event "
            "loop, which the top-level `timeout` watches; bound a coroutine with "
            "`asyncio.timeout`)");
      }
    }
    if (prefixes.count("/") && !config_.app.empty()) {
      problems_.push_back(origin("mounts") +
                          "`mounts`: a mount at `/` and `app` both serve `/` (`" + config_.app +
                          "` is the `/` mount when no mount is at `/`)");
    }
  }

  // Paths from the environment, the command line and the defaults are relative to the current
  // directory; the effective config holds them absolute, so that a worker started elsewhere
  // (or a JSON copy of the config) means the same files.
  void make_paths_absolute() {
    const auto absolute = [](std::string& path) {
      if (path.empty() || path == "-") return;
      std::string resolved = std::filesystem::absolute(path).lexically_normal().string();
      if (resolved.size() > 1 && resolved.ends_with('/')) resolved.pop_back();
      path = resolved;
    };
    for (const auto& setting : settings()) {
      if (const auto* text = std::get_if<TextField>(&setting.field); text && text->is_path) {
        absolute(text->ref(config_));
      } else if (const auto* list = std::get_if<ListField>(&setting.field); list && list->is_path) {
        for (auto& item : list->ref(config_)) absolute(item);
      }
    }
  }

  void check_directory(const std::string& key, const std::string& path) {
    std::error_code error;
    if (!std::filesystem::is_directory(path, error)) {
      problems_.push_back(origin(key) + "`" + key + "`: no such directory `" + path + "`");
    }
  }

  static bool is_number(const std::string& text) {
    return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  }

  static bool python_has_own_gil() {
    const std::string version = HORNBEAM_PYTHON_VERSION;
    const auto dot = version.find('.');
    const int major = std::stoi(version.substr(0, dot));
    const int minor = std::stoi(version.substr(dot + 1));
    return major > 3 || (major == 3 && minor >= 12);
  }

  static bool is_section(std::string_view name) {
    for (const auto& section : sections()) {
      if (section.name == name) return true;
    }
    return false;
  }

  // A top-level `max_body_size` is most likely `limits.max_body_size`; otherwise the closest
  // key at the same level.
  static std::string suggestion_for_key(const std::string& name, std::string_view section) {
    std::vector<std::string> candidates;
    for (const auto& setting : settings()) {
      if (setting.section() == section) candidates.emplace_back(setting.leaf());
      if (section.empty() && setting.leaf() == name && !setting.section().empty()) {
        return " (did you mean `" + std::string(setting.key) + "`?)";
      }
    }
    if (section.empty()) {
      for (const auto& known : sections()) candidates.emplace_back(known.name);
    }
    return did_you_mean(name, candidates);
  }

  std::string position(const YAML::Node& node) const {
    const YAML::Mark mark = node.Mark();
    return file_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }

  void report(const YAML::Node& node, const std::string& message) {
    problems_.push_back(position(node) + ": " + message);
  }

  // "hornbeam.yaml:4:8: " or "environment HORNBEAM_CHDIR: " or "" for a default.
  std::string origin(const std::string& key) const {
    const auto found = origins_.find(key);
    return found == origins_.end() ? std::string() : found->second + ": ";
  }

  const Sources& sources_;
  Config config_;
  std::string file_;
  std::string base_dir_;
  std::map<std::string, std::string, std::less<>> origins_;
  std::vector<std::string> problems_;
};

}  // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error(join_lines(problems)), problems_(std::move(problems)) {}

Environment process_environment() {
  Environment environment;
  for (char** entry = environ; *entry; ++entry) {
    const std::string_view text(*entry);
    const auto equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string_view name = text.substr(0, equals);
    if (!name.starts_with("HORNBEAM_") && name != port_variable) continue;
    environment.emplace(text.substr(0, equals), text.substr(equals + 1));
  }
  return environment;
}

Config load(const Sources& sources) { return Loader(sources).run(); }

}  // namespace hornbeam::config
