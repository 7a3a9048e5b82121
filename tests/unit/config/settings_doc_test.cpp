#include "config/settings_doc.hpp"

#include "config/settings.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace hornbeam::config {
namespace {

TEST(SettingsDoc, CommittedFileIsGeneratedFromTheTable) {
  std::ifstream file(HORNBEAM_SOURCE_DIR "/docs/settings.md");
  ASSERT_TRUE(file) << "docs/settings.md is missing";
  std::stringstream committed;
  committed << file.rdbuf();
  EXPECT_EQ(committed.str(), settings_markdown())
      << "docs/settings.md is stale: run `cmake --build build --target settings-doc`";
}

TEST(SettingsDoc, NamesEverySettingWithItsFlagAndVariable) {
  const std::string doc = settings_markdown();
  for (const auto& setting : settings()) {
    EXPECT_NE(doc.find("`" + std::string(setting.key) + "`"), std::string::npos) << setting.key;
    EXPECT_NE(doc.find("`--" + setting.flag() + "`"), std::string::npos) << setting.key;
    EXPECT_NE(doc.find("`" + setting.env() + "`"), std::string::npos) << setting.key;
  }
}

}  // namespace
}  // namespace hornbeam::config
