// Prints docs/settings.md from the settings table: `hornbeam-settings-doc > docs/settings.md`.

#include "config/settings_doc.hpp"

#include <iostream>

int main() {
  std::cout << hornbeam::config::settings_markdown();
  return 0;
}
