#include "config/json_output.hpp"

#include "config_test_support.hpp"

#include <nlohmann/json.hpp>

namespace hornbeam::config {
namespace {

using testing::load_from;

const char* const yaml =
    "app: pkg.mod:app\nworkers: 3\nbind: ['[::1]:9000', 'unix:/tmp/x.sock']\ngraceful_timeout: "
    "1500ms\n"
    "umask: 0027\nlimits:\n  max_body_size: 1MiB\nmounts:\n  - {prefix: /api, app: 'api:app', "
    "worker_class: asgi}\n"
    "  - {prefix: /reports, app: 'reports:app', timeout: 1500ms}\n"
    "websocket:\n  compress: true\n";

TEST(JsonOutput, IsNestedLikeTheYamlFile) {
  const auto json = nlohmann::json::parse(to_json_text(load_from(yaml)));
  EXPECT_EQ(json["app"], "pkg.mod:app");
  EXPECT_EQ(json["workers"], 3);
  EXPECT_EQ(json["bind"], nlohmann::json::array({"[::1]:9000", "unix:/tmp/x.sock"}));
  EXPECT_EQ(json["graceful_timeout"], 1.5);  // seconds
  EXPECT_EQ(json["timeout"], 30);
  EXPECT_EQ(json["umask"], "0o027");
  EXPECT_EQ(json["limits"]["max_body_size"], 1048576);  // bytes
  EXPECT_EQ(json["mounts"][0]["worker_class"], "asgi");
  EXPECT_FALSE(json["mounts"][0].contains("timeout"));
  EXPECT_EQ(json["mounts"][1]["timeout"], 1.5);  // seconds, as the top-level one
  EXPECT_EQ(json["websocket"]["compress"], true);
  EXPECT_EQ(json["shared_state"]["size"], 64 * 1024 * 1024);
}

TEST(JsonOutput, LoadsBackToTheSameConfiguration) {
  // The arbiter hands workers their configuration as this JSON: it must round-trip exactly.
  const std::string first = to_json_text(load_from(yaml));
  testing::TempYaml json_file(first, "config.json");
  Sources sources;
  sources.config_file = json_file.path();
  EXPECT_EQ(to_json_text(load(sources)), first);
}

TEST(JsonOutput, MountsWithoutAnAppLoadBack) {
  // The arbiter's workers load this: an empty `app` would be refused.
  const std::string first =
      to_json_text(load_from("mounts:\n  - {prefix: /api, app: 'api:app'}\n"));
  EXPECT_FALSE(nlohmann::json::parse(first).contains("app"));
  testing::TempYaml json_file(first, "config.json");
  Sources sources;
  sources.config_file = json_file.path();
  EXPECT_EQ(to_json_text(load(sources)), first);
}

}  // namespace
}  // namespace hornbeam::config
