#include "common/standard_fds.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace hornbeam {

void open_missing_standard_fds() {
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    // open() takes the lowest free number: `fd` itself, as the ones below it are open by
    // now. Kept for the process's life, without close-on-exec (children inherit 0-2).
    ::open("/dev/null", O_RDWR);
  }
}

}  // namespace hornbeam
