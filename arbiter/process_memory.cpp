#include "arbiter/process_memory.hpp"

#include <unistd.h>

#include <fstream>
#include <string>

namespace hornbeam::arbiter {

std::optional<std::uint64_t> resident_memory_of(pid_t pid) {
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  std::uint64_t size_pages = 0;
  std::uint64_t resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return std::nullopt;
  return resident_pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace hornbeam::arbiter
