// Every setting of the table, read from YAML, from the environment and from the command line.
// The sample list must name every setting: adding a setting without a sample fails here.

#include "config/settings.hpp"
#include "config_test_support.hpp"

#include <map>

namespace hornbeam::config {
namespace {

using testing::load_from;

struct Sample {
  std::string text;       // as given in the environment or on the command line
  std::string expected;   // format_value() of the result
  std::string yaml = {};  // YAML value when it differs from `text`
};

const std::map<std::string, Sample>& samples() {
  static const std::map<std::string, Sample> all = {
      {"app", {"mod.sub:app", "mod.sub:app"}},
      {"worker_class", {"asgi", "asgi"}},
      {"bind",
       {"0.0.0.0:9000,unix:/tmp/hb.sock", "0.0.0.0:9000,unix:/tmp/hb.sock",
        "[0.0.0.0:9000, 'unix:/tmp/hb.sock']"}},
      {"workers", {"7", "7"}},
      {"contexts", {"3", "3"}},
      // owngil is refused on Python 3.11 (errors_test covers that); thread is all 3.11 takes.
      {"context_mode", {"thread", "thread"}},
      {"pythonpath", {"/opt/a,/opt/b", "/opt/a,/opt/b", "[/opt/a, /opt/b]"}},
      {"chdir", {"/tmp", "/tmp"}},
      {"venv", {"/tmp", "/tmp"}},
      {"timeout", {"45s", "45s"}},
      {"graceful_timeout", {"500ms", "500ms"}},
      {"keepalive", {"2", "2s"}},
      {"io_spin_us", {"50", "50"}},
      {"max_requests", {"1000", "1000"}},
      {"max_requests_jitter", {"50", "50"}},
      {"max_worker_memory", {"512MiB", "512MiB"}},
      {"max_worker_lifetime", {"6h", "6h"}},
      {"max_worker_lifetime_jitter", {"30m", "30m"}},
      {"reload", {"true", "true"}},
      {"reload_paths", {"/srv/app,/srv/lib", "/srv/app,/srv/lib", "[/srv/app, /srv/lib]"}},
      {"reload_include", {"*.py,*.html", "*.py,*.html", "['*.py', '*.html']"}},
      {"reload_exclude", {"build", "build", "[build]"}},
      {"reload_debounce", {"1s", "1s"}},
      {"tls.certfile", {"/etc/ssl/hb.pem", "/etc/ssl/hb.pem"}},
      {"tls.keyfile", {"/etc/ssl/hb.key", "/etc/ssl/hb.key"}},
      {"tls.password_file", {"/etc/ssl/hb.pass", "/etc/ssl/hb.pass"}},
      {"tls.min_version", {"1.3", "1.3", "'1.3'"}},
      {"tls.ciphers", {"ECDHE+AESGCM", "ECDHE+AESGCM"}},
      {"tls.handshake_timeout", {"5s", "5s"}},
      {"tls.ca_certs", {"/etc/ssl/clients.pem", "/etc/ssl/clients.pem"}},
      {"tls.verify_client", {"required", "required"}},
      {"http2.enabled", {"false", "false"}},
      {"http2.h2c_upgrade", {"true", "true"}},
      {"http2.max_concurrent_streams", {"250", "250"}},
      {"http2.initial_window_size", {"1MiB", "1MiB"}},
      {"http2.max_header_list_size", {"32KiB", "32KiB"}},
      {"http2.stall_timeout", {"10s", "10s"}},
      {"lifespan", {"off", "off"}},
      {"limits.max_request_line", {"4094", "4094"}},
      {"limits.max_header_size", {"1024", "1024"}},
      {"limits.max_headers", {"50", "50"}},
      {"limits.max_body_size", {"1MiB", "1MiB"}},
      {"limits.body_buffer_threshold", {"128K", "128KiB"}},
      {"limits.header_timeout", {"3s", "3s"}},
      {"limits.body_timeout", {"20s", "20s"}},
      {"limits.send_timeout", {"45s", "45s"}},
      {"mounts",
       {"/api=api:app@asgi,/admin=admin.wsgi:application",
        "/api=api:app@asgi,/admin=admin.wsgi:application@wsgi",
        "[{prefix: /api, app: 'api:app', worker_class: asgi}, "
        "{prefix: /admin, app: 'admin.wsgi:application'}]"}},
      {"hooks.on_request", {"hooks:before", "hooks:before"}},
      {"hooks.on_response", {"hooks:after", "hooks:after"}},
      {"hooks.on_error", {"hooks:failed", "hooks:failed"}},
      {"hooks.post_worker_init", {"hooks:ready", "hooks:ready"}},
      {"hooks.worker_exit", {"hooks:bye", "hooks:bye"}},
      {"hooks.worker_abort", {"hooks:stuck", "hooks:stuck"}},
      {"websocket.max_message_size", {"1MiB", "1MiB"}},
      {"websocket.ping_interval", {"10s", "10s"}},
      {"websocket.idle_timeout", {"2m", "2m"}},
      {"websocket.compress", {"true", "true"}},
      {"loop", {"asyncio", "asyncio"}},
      {"shared_state.size", {"16MiB", "16MiB"}},
      {"shared_state.backend",
       {"redis://10.0.0.7:6380/2", "redis://10.0.0.7:6380/2", "\"redis://10.0.0.7:6380/2\""}},
      {"shared_state.prefix", {"shop:", "shop:", "\"shop:\""}},
      {"shared_state.timeout", {"250ms", "250ms"}},
      {"shared_state.tls_ca_certs", {"/etc/redis/ca.pem", "/etc/redis/ca.pem"}},
      {"proxy_protocol", {"v2", "v2"}},
      {"proxy_allow_ips", {"10.0.0.0/8,::1", "10.0.0.0/8,::1", "['10.0.0.0/8', '::1']"}},
      {"logging.level", {"debug", "debug"}},
      {"logging.format", {"json", "json"}},
      {"logging.access_log", {"/var/log/access.log", "/var/log/access.log"}},
      {"logging.error_log", {"/var/log/error.log", "/var/log/error.log"}},
      {"logging.access_log_format", {"%(h)s %(r)s", "%(h)s %(r)s", "'%(h)s %(r)s'"}},
      {"forwarded_allow_ips", {"10.0.0.1,::1", "10.0.0.1,::1", "[10.0.0.1, '::1']"}},
      {"user", {"root", "root"}},
      {"group", {"root", "root"}},
      {"umask", {"0027", "0o027"}},
      {"pidfile", {"/run/hornbeam.pid", "/run/hornbeam.pid"}},
      {"reuse_port", {"true", "true"}},
      {"backlog", {"128", "128"}},
      {"metrics_bind", {"127.0.0.1:9100", "127.0.0.1:9100"}},
      {"shutdown_delay", {"5s", "5s"}},
      {"control_socket", {"/run/hornbeam/control.sock", "/run/hornbeam/control.sock"}},
  };
  return all;
}

// "limits.max_body_size" with value V → "limits:\n  max_body_size: V\n".
std::string yaml_for(const Setting& setting, const std::string& value) {
  if (setting.section().empty()) return std::string(setting.key) + ": " + value + "\n";
  return std::string(setting.section()) + ":\n  " + std::string(setting.leaf()) + ": " + value +
         "\n";
}

std::string value_in(const Config& config, const Setting& setting) {
  Config copy = config;
  return format_value(setting.field, copy);
}

TEST(EverySetting, HasASampleThatDiffersFromItsDefault) {
  for (const auto& setting : settings()) {
    SCOPED_TRACE(std::string(setting.key));
    const auto sample = samples().find(std::string(setting.key));
    ASSERT_NE(sample, samples().end()) << "add a sample for the new setting";
    if (setting.key != "context_mode") {
      EXPECT_NE(sample->second.expected, value_in(Config{}, setting));
    }
  }
  EXPECT_EQ(samples().size(), settings().size()) << "a sample names a setting that does not exist";
}

TEST(EverySetting, IsReadFromYaml) {
  for (const auto& setting : settings()) {
    SCOPED_TRACE(std::string(setting.key));
    const Sample& sample = samples().at(std::string(setting.key));
    const Config config = load_from(
        yaml_for(setting, sample.yaml.empty() ? sample.text : sample.yaml), {}, {}, false);
    EXPECT_EQ(value_in(config, setting), sample.expected);
  }
}

TEST(EverySetting, IsReadFromTheEnvironment) {
  for (const auto& setting : settings()) {
    SCOPED_TRACE(std::string(setting.key));
    const Sample& sample = samples().at(std::string(setting.key));
    const Config config = load_from("", {{setting.env(), sample.text}}, {}, false);
    EXPECT_EQ(value_in(config, setting), sample.expected);
  }
}

TEST(EverySetting, IsReadFromTheCommandLine) {
  for (const auto& setting : settings()) {
    SCOPED_TRACE(std::string(setting.key));
    const Sample& sample = samples().at(std::string(setting.key));
    // A switch is given alone, and turned off as --no-<flag>.
    const bool is_switch = std::holds_alternative<BoolField>(setting.field);
    const std::vector<std::string> args =
        !is_switch               ? std::vector<std::string>{"--" + setting.flag(), sample.text}
        : sample.text == "false" ? std::vector<std::string>{"--no-" + setting.flag()}
                                 : std::vector<std::string>{"--" + setting.flag()};
    const Config config = load_from("", {}, args, false);
    EXPECT_EQ(value_in(config, setting), sample.expected);
  }
}

TEST(EverySetting, ShortFlagsAndPositionalApp) {
  const Config config = load_from(
      "", {}, {"-w", "5", "-k", "asgi", "-b", "127.0.0.1:1", "-b", "[::1]:2", "pkg.mod:app"});
  EXPECT_EQ(config.workers, 5);
  EXPECT_EQ(config.worker_class, "asgi");
  EXPECT_EQ(config.bind, (std::vector<std::string>{"127.0.0.1:1", "[::1]:2"}));
  EXPECT_EQ(config.app, "pkg.mod:app");
}

TEST(EverySetting, BooleanFlagWithoutValueMeansTrue) {
  EXPECT_TRUE(load_from("", {}, {"--reuse-port", "a:b"}).reuse_port);
  EXPECT_FALSE(load_from("reuse_port: true\n", {}, {"--no-reuse-port", "a:b"}).reuse_port);
  EXPECT_TRUE(load_from("reuse_port: true\n", {}, {"a:b"}).reuse_port);  // not given: file wins
}

TEST(EverySetting, MountWithoutClassInheritsTheTopLevelOne) {
  const Config config =
      load_from("worker_class: asgi\nmounts:\n  - {prefix: /x, app: 'x:app'}\n", {}, {"a:b"});
  ASSERT_EQ(config.mounts.size(), 1u);
  EXPECT_EQ(config.mounts[0].worker_class, "asgi");
}

TEST(EverySetting, AnAppFactoryWithLiteralArgumentsIsAnAppSpec) {
  EXPECT_EQ(load_from("app: 'shop:create_app()'\n").app, "shop:create_app()");
  EXPECT_EQ(load_from("", {}, {"shop.wsgi:factories.make('a:b', debug=True)"}).app,
            "shop.wsgi:factories.make('a:b', debug=True)");
  const Config config = load_from(
      "", {}, {"--mounts", "/api=api:create(\"x@y\", 2)@asgi,/site=site:make(',')", "a:b"});
  ASSERT_EQ(config.mounts.size(), 2u);
  EXPECT_EQ(config.mounts[0].app, "api:create(\"x@y\", 2)");
  EXPECT_EQ(config.mounts[0].worker_class, "asgi");
  EXPECT_EQ(config.mounts[1].app, "site:make(',')");
  for (const char* bad : {"shop:create_app(", "shop:(x)", "shop:create_app()x"}) {
    EXPECT_THROW(load_from("", {}, {bad}), ConfigError) << bad;
  }
}

TEST(EverySetting, RelativePathsInAFileAreRelativeToTheFile) {
  testing::TempYaml file(
      "app: a:b\npythonpath: [src, /abs]\nchdir: .\nlogging:\n  access_log: logs/access.log\n  "
      "error_log: '-'\n");
  Sources sources;
  sources.config_file = file.path();
  const Config config = load(sources);
  EXPECT_EQ(config.pythonpath, (std::vector<std::string>{file.dir() + "/src", "/abs"}));
  EXPECT_EQ(config.chdir, file.dir());
  EXPECT_EQ(config.logging.access_log, file.dir() + "/logs/access.log");
  EXPECT_EQ(config.logging.error_log, "-");
}

TEST(EverySetting, EmptyValueClearsAnOptionalString) {
  EXPECT_EQ(load_from("app: a:b\npidfile:\n").pidfile, "");
  EXPECT_EQ(load_from("app: a:b\nlogging:\n  access_log: ''\n").logging.access_log, "");
}

}  // namespace
}  // namespace hornbeam::config
