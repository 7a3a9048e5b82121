"""The peers hornbeam must behave like, run on the same test apps: Uvicorn (Debian's
python3-uvicorn) on a socket the test binds, so that no port is guessed."""

import re
import signal
import socket
import subprocess
import threading
import time

from conftest import APPS

PYTHON = "/usr/bin/python3"  # Debian's, which sees python3-uvicorn


def uvicorn_available():
    return subprocess.run([PYTHON, "-c", "import uvicorn"], capture_output=True).returncode == 0


class Uvicorn:
    """uvicorn serving `app` ("module:callable" from tests/e2e/apps); `log` is its stderr."""

    def __init__(self, app, *args):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        self.port = listener.getsockname()[1]
        self.lines = []
        self.process = subprocess.Popen(
            [PYTHON, "-m", "uvicorn", "--fd", str(listener.fileno()), "--app-dir", str(APPS),
             "--log-level", "info", "--no-access-log", *args, app],
            pass_fds=(listener.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, errors="replace")
        listener.close()
        self._started = threading.Event()
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        assert self._started.wait(30), "uvicorn did not start:\n" + self.log
        assert self.process.poll() is None, "uvicorn exited:\n" + self.log

    def _read_log(self):
        for line in self.process.stderr:
            self.lines.append(line)
            if re.search(r"Uvicorn running|Application startup complete", line):
                self._started.set()
        self._started.set()

    @property
    def log(self):
        return "".join(self.lines)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def connect(self):
        from conftest import Connection
        return Connection(socket.create_connection(("127.0.0.1", self.port), timeout=10))

    def stop(self, timeout=30):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(5)


def wait_for_file(path, text, timeout=10, count=1):
    """The file's text once `text` is in it `count` times."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count(text) >= count:
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{text!r} not {count} time(s) in {path}: "
                         f"{path.read_text() if path.exists() else '(missing)'}")
