#pragma once

#include <string>

namespace hornbeam::config {

// docs/settings.md, generated from the settings table (`hornbeam-settings-doc` prints it; a
// test fails when the committed file differs).
std::string settings_markdown();

// hornbeam.yaml(5), the same table as a man page (`hornbeam-settings-doc --man`; the .deb
// ships it).
std::string settings_man_page();

}  // namespace hornbeam::config
