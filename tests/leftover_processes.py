"""After a test run: every process still alive that the run started (found by the marker
variable that scripts/test put in the environment, which every child inherits, orphans too).
Names each one, kills it so that the machine is clean for what runs next, and exits 1 if there
was any. Zombies are dead already and not counted.

    /usr/bin/python3 tests/leftover_processes.py MARKER=VALUE"""

import os
import signal
import sys
import time
from pathlib import Path

GRACE = 3  # seconds for processes on their way out (a worker stopping after its arbiter)


def state_of(pid):
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]  # after the name, which may hold spaces


def leftovers(marker):
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in (os.getpid(), os.getppid()):
            continue
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
            if marker not in environment or state_of(entry.name) in ("Z", "X"):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        found.append((int(entry.name), command.strip()))
    return found


def main():
    marker = sys.argv[1].encode()
    deadline = time.monotonic() + GRACE
    survivors = leftovers(marker)
    while survivors and time.monotonic() < deadline:
        time.sleep(0.1)
        survivors = leftovers(marker)
    for pid, command in survivors:
        print(f"scripts/test: a test left process {pid} running: {command}", file=sys.stderr)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
