#include "common/version.hpp"

#include <boost/version.hpp>

namespace hornbeam {

const char* version_number() { return HORNBEAM_VERSION; }

std::string version_line() {
  constexpr int boost_major = BOOST_VERSION / 100000;
  constexpr int boost_minor = BOOST_VERSION / 100 % 1000;
  constexpr int boost_patch = BOOST_VERSION % 100;
  return std::string("hornbeam ") + HORNBEAM_VERSION + " (Python " + HORNBEAM_PYTHON_VERSION +
         ", Boost " + std::to_string(boost_major) + "." + std::to_string(boost_minor) + "." +
         std::to_string(boost_patch) + ")";
}

}  // namespace hornbeam
