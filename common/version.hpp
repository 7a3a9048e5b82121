#pragma once

#include <string>

namespace hornbeam {

// "hornbeam 0.1.0 (Python 3.11.2, Boost 1.81.0)": what `--version` prints.
std::string version_line();

// The bare version number, e.g. "0.1.0" (the Server header uses it).
const char* version_number();

}  // namespace hornbeam
