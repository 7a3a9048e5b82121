// Settings the rest of the configuration leaves without effect are named, and only those.

#include "config/without_effect.hpp"

#include <gtest/gtest.h>

namespace hornbeam::config {
namespace {

TEST(WithoutEffect, TlsSettingsWithoutAnHttpsBindAreNamed) {
  Config config;
  EXPECT_TRUE(settings_without_effect(config).empty()) << "the defaults";
  config.tls.certfile = "/etc/ssl/hb.pem";
  config.tls.verify_client = "required";
  const auto found = settings_without_effect(config);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].substr(0, found[0].find(" set,")), "`tls.certfile`, `tls.verify_client`");
  config.bind.push_back("https://127.0.0.1:8443");
  EXPECT_TRUE(settings_without_effect(config).empty()) << "one https:// bind uses them";
}

TEST(WithoutEffect, TheArbitersSettingsAreNamedForAWorkerAlone) {
  Config config;
  EXPECT_EQ(arbiter_settings_for_a_worker_alone(config), "") << "the defaults";
  config.max_requests = 1000;  // a worker alone recycles itself: not named
  config.contexts = 4;
  EXPECT_EQ(arbiter_settings_for_a_worker_alone(config), "");
  config.workers = config.workers + 3;
  config.user = "nobody";
  config.pidfile = "/run/hornbeam.pid";
  const auto warning = arbiter_settings_for_a_worker_alone(config);
  EXPECT_EQ(warning.substr(0, warning.find(" set,")), "`workers`, `user`, `pidfile`");
}

}  // namespace
}  // namespace hornbeam::config
