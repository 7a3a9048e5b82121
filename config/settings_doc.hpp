#pragma once

#include <string>

namespace hornbeam::config {

// docs/settings.md, generated from the settings table (`hornbeam-settings-doc` prints it; a
// test fails when the committed file differs).
std::string settings_markdown();

}  // namespace hornbeam::config
