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

}  // namespace
}  // namespace hornbeam::config
