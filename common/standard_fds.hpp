#pragma once

// Started with stdin, stdout or stderr closed (`hornbeam-arbiter <&- >&- 2>&-`, some process
// supervisors), the next descriptor opened takes the free number: the shared-memory segment
// became stdin, a pipe stdout, and the log lines went into whatever held 1 and 2 (workers
// failed to boot on it). As nginx and OpenSSH do, the missing ones are opened on /dev/null
// first thing, before anything else is opened.

namespace hornbeam {

void open_missing_standard_fds();

}  // namespace hornbeam
