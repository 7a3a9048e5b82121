"""Real components the end-to-end tests run beside hornbeam: Uvicorn (Debian's
python3-uvicorn), the peer it must behave like on the same test apps, on a socket the test
binds so that no port is guessed; and nginx (nginx-light) as a reverse proxy in front of it."""

import os
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


def free_port():
    """A loopback port free at this moment, for a peer that binds it itself."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


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


class Nginx:
    """Debian's nginx on loopback in front of `upstream_port`, with `locations` (nginx
    directives for `location /`); stopped by stop(). Runs as root or as this user."""

    def __init__(self, tmp_path, upstream_port, locations):
        self.port = free_port()
        prefix = tmp_path / "nginx"
        (prefix / "logs").mkdir(parents=True, exist_ok=True)
        self.config = prefix / "nginx.conf"
        self.config.write_text(f"""
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  server {{
    listen 127.0.0.1:{self.port};
    location / {{
      proxy_pass http://127.0.0.1:{upstream_port};
      proxy_http_version 1.1;
      {locations}
    }}
  }}
}}
""")
        user = ["-g", "user root;"] if os.geteuid() == 0 else []
        self.process = subprocess.Popen(["/usr/sbin/nginx", "-p", str(prefix), "-c", str(self.config), *user],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise AssertionError("nginx did not start: " + self.process.stderr.read())
                time.sleep(0.05)
        raise AssertionError("nginx did not start listening")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: its workers go with it
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Prometheus:
    """Debian's Prometheus on loopback, scraping `target` ("host:port") every 500 ms, its data
    in tmp_path; stopped by stop()."""

    def __init__(self, tmp_path, target):
        self.port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(f"""
global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
  - job_name: hornbeam
    static_configs:
      - targets: ['{target}']
""")
        self.process = subprocess.Popen(
            ["/usr/bin/prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def query(self, expression, timeout=30):
        """The first sample's value of an instant query, waiting until there is one."""
        import requests
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                result = requests.get(f"http://127.0.0.1:{self.port}/api/v1/query",
                                      params={"query": expression}, timeout=5).json()["data"]["result"]
                if result:
                    return float(result[0]["value"][1])
            except (requests.RequestException, KeyError, ValueError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"Prometheus has no value for {expression!r}")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
