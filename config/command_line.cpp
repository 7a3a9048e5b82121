#include "config/command_line.hpp"

#include "config/settings.hpp"
#include "config/suggest.hpp"

#include <boost/program_options.hpp>

#include <sstream>

namespace po = boost::program_options;

namespace hornbeam::config {
namespace {

po::options_description describe_options(const std::vector<ExtraOption>& extras) {
  po::options_description all("Options", 100, 50);
  po::options_description general("General");
  general.add_options()("config,c", po::value<std::string>()->value_name("FILE"),
                        "YAML config file (or HORNBEAM_CONFIG)")(
      "check-config", "validate the configuration and exit 0 (valid) or 2 (invalid)")(
      "print-config", "print the effective configuration as JSON and exit")(
      "version", "print version, Python and Boost versions and exit")("help,h",
                                                                      "print this help and exit");
  for (const auto& extra : extras) {
    general.add_options()(std::string(extra.name).c_str(),
                          po::value<std::vector<std::string>>(extra.values)
                              ->value_name(std::string(extra.value_name)),
                          std::string(extra.doc).c_str());
  }
  all.add(general);

  po::options_description table("Settings (also YAML keys and HORNBEAM_<KEY> variables)");
  for (const auto& setting : settings()) {
    std::string name = setting.flag();
    if (!setting.short_flag.empty()) name += "," + std::string(setting.short_flag);
    std::string doc = std::string(setting.doc);
    const std::string fallback = setting.default_text();
    if (!fallback.empty()) doc += " [" + fallback + "]";
    if (is_flag(setting.field)) {
      // Switches take no value, so that `--reuse-port app:main` never reads the app as a value.
      table.add_options()(name.c_str(),
                          po::value<std::string>()->zero_tokens()->implicit_value("true"),
                          doc.c_str());
      const std::string negated = "no-" + setting.flag();
      table.add_options()(negated.c_str(),
                          po::value<std::string>()->zero_tokens()->implicit_value("false"),
                          ("turn off --" + setting.flag()).c_str());
    } else if (is_repeatable(setting.field)) {
      table.add_options()(name.c_str(),
                          po::value<std::vector<std::string>>()->composing()->value_name("VALUE"),
                          doc.c_str());
    } else {
      table.add_options()(name.c_str(), po::value<std::string>()->value_name("VALUE"), doc.c_str());
    }
  }
  all.add(table);
  return all;
}

std::string unknown_option_message(const std::string& option) {
  std::vector<std::string> candidates = {"config", "check-config", "print-config", "version",
                                         "help"};
  for (const auto& setting : settings()) candidates.push_back(setting.flag());
  std::string bare = option;
  while (bare.starts_with('-')) bare.erase(0, 1);
  if (const auto peer = peer_option_hint(bare)) return "unknown option " + option + *peer;
  const auto match = closest(bare, candidates);
  return "unknown option " + option + (match ? " (did you mean --" + *match + "?)" : std::string());
}

}  // namespace

const std::vector<std::pair<std::string_view, std::string_view>>& peer_options() {
  // Gunicorn's, Uvicorn's and uWSGI's names for what hornbeam has (docs/deployment.md):
  // someone moving a command line over learns the name here, not from the table.
  static const std::vector<std::pair<std::string_view, std::string_view>> table = {
      {"threads", "contexts"},
      {"keep-alive", "keepalive"},
      {"timeout-keep-alive", "keepalive"},
      {"http-keepalive", "keepalive"},
      {"timeout-graceful-shutdown", "graceful-timeout"},
      {"limit-max-requests", "max-requests"},
      {"log-level", "logging-level"},
      {"access-logfile", "logging-access-log"},
      {"access-log", "logging-access-log"},
      {"error-logfile", "logging-error-log"},
      {"log-file", "logging-error-log"},
      {"access-logformat", "logging-access-log-format"},
      {"limit-request-line", "limits-max-request-line"},
      {"limit-request-fields", "limits-max-headers"},
      {"limit-request-field_size", "limits-max-header-size"},
      {"limit-request-field-size", "limits-max-header-size"},
      {"limit-post", "limits-max-body-size"},
      {"certfile", "tls-certfile"},
      {"keyfile", "tls-keyfile"},
      {"ca-certs", "tls-ca-certs"},
      {"ssl-certfile", "tls-certfile"},
      {"ssl-keyfile", "tls-keyfile"},
      {"ssl-ca-certs", "tls-ca-certs"},
      {"ws-max-size", "websocket-max-message-size"},
      {"ws-ping-interval", "websocket-ping-interval"},
      {"ws-per-message-deflate", "websocket-compress"},
      {"uid", "user"},
      {"gid", "group"},
      {"app-dir", "pythonpath"},
      {"virtualenv", "venv"},
      {"proxy-allow-from", "proxy-allow-ips"},
      {"listen", "backlog"},
      {"host", "bind"},
      {"port", "bind"},
      {"uds", "bind"},
      {"fd", "bind"},
  };
  return table;
}

std::optional<std::string> peer_option_hint(std::string_view option) {
  for (const auto& [peer, ours] : peer_options()) {
    if (option != peer) continue;
    if (ours == "bind") {
      return std::string(
          " (hornbeam takes the address as --bind HOST:PORT, --bind unix:PATH "
          "or --bind fd://N)");
    }
    return " (hornbeam's is --" + std::string(ours) + ")";
  }
  return std::nullopt;
}

CommandLine parse_command_line(int argc, const char* const* argv,
                               const std::vector<ExtraOption>& extras) {
  auto options = describe_options(extras);
  po::positional_options_description positional;
  positional.add("app", 1);

  po::variables_map given;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(),
              given);
    po::notify(given);
  } catch (const po::unknown_option& e) {
    throw ConfigError({unknown_option_message(e.get_option_name())});
  } catch (const po::too_many_positional_options_error&) {
    throw ConfigError({"more than one APP given: name the app once, as `module:callable`"});
  } catch (const po::error& e) {
    throw ConfigError({std::string("command line: ") + e.what()});
  }

  CommandLine line;
  if (given.count("config")) line.config_file = given["config"].as<std::string>();
  line.check_config = given.count("check-config") > 0;
  line.print_config = given.count("print-config") > 0;
  line.show_version = given.count("version") > 0;
  line.show_help = given.count("help") > 0;
  for (const auto& setting : settings()) {
    std::string name = setting.flag();
    if (is_flag(setting.field) && given.count("no-" + name)) name = "no-" + name;
    if (!given.count(name)) continue;
    const auto& value = given[name];
    if (is_repeatable(setting.field)) {
      line.values.push_back({&setting, value.as<std::vector<std::string>>()});
    } else {
      line.values.push_back({&setting, {value.as<std::string>()}});
    }
  }
  return line;
}

std::string help_text(std::string_view program, const std::vector<ExtraOption>& extras) {
  std::ostringstream text;
  text << "Usage: " << program << " [-c FILE] [options] [APP]\n\n"
       << "APP is the application as module:callable (the `app` setting).\n"
       << "Precedence: command line > HORNBEAM_* environment > config file > defaults.\n"
       << "Sizes take units (64MiB, 512K), durations too (30s, 500ms; a bare number is "
          "seconds).\n\n";
  std::vector<std::string> unused;
  std::vector<ExtraOption> shown = extras;
  for (auto& extra : shown) extra.values = &unused;
  text << describe_options(shown);
  return text.str();
}

}  // namespace hornbeam::config
