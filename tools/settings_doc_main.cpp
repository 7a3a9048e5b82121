// Prints docs/settings.md from the settings table: `hornbeam-settings-doc > docs/settings.md`;
// with --man, the hornbeam.yaml(5) man page instead.

#include "config/settings_doc.hpp"

#include <iostream>

#include <string_view>

int main(int argc, char** argv) {
  const bool man = argc > 1 && std::string_view(argv[1]) == "--man";
  std::cout << (man ? hornbeam::config::settings_man_page()
                    : hornbeam::config::settings_markdown());
  return 0;
}
