"""Real Redis servers for the tests of the shared state's Redis backends: Debian's
redis-server on loopback, standalone or as a 3-master Redis Cluster (made by redis-cli), each
in its own directory, stopped (and its processes reaped) by whoever started it."""

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def skip_without_redis():
    if not Path(REDIS_SERVER).exists() or not Path(REDIS_CLI).exists():
        pytest.skip("redis-server or redis-cli is not installed (scripts/ensure-packages installs them)")


def free_port(below=55000):
    """A free TCP port; below 55000 so that a cluster node's bus port (+10000) exists."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < below:
            with socket.socket() as bus:
                try:
                    bus.bind(("127.0.0.1", port + 10000))
                    return port
                except OSError:
                    continue


class RedisServer:
    """One redis-server on 127.0.0.1:`port`, without persistence; with `socket` (a path), on
    that Unix socket only."""

    def __init__(self, directory, port=None, *options, cli_options=(), socket=None):
        skip_without_redis()
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.socket = socket
        if socket:
            options = ("--port", "0", "--unixsocket", str(socket), "--unixsocketperm", "700", *options)
            cli_options = ("-s", str(socket), *cli_options)
        self.options = options
        self.cli_options = cli_options  # how redis-cli reaches it (--tls ..., -s PATH)
        self.process = None
        self.start()

    @property
    def url(self):
        return f"unix://{self.socket}" if self.socket else f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            # A TLS server gives its own --port 0 and --tls-port.
            [REDIS_SERVER, *(() if "--port" in self.options else ("--port", str(self.port))), "--bind",
             "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.directory), "--logfile", str(self.directory / f"redis-{self.port}.log"),
             *self.options],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while self.cli("PING", check=False) != "PONG":
            assert self.process.poll() is None, (self.directory / f"redis-{self.port}.log").read_text()
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)

    def cli(self, *words, check=True):
        reach = () if self.socket else ("-p", str(self.port))
        result = subprocess.run([REDIS_CLI, *reach, *self.cli_options, *words],
                                capture_output=True, text=True, timeout=10)
        if check:
            assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def stop(self):
        """Gone at once (SIGKILL): as a crash or a lost host looks to its clients."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)

    def pause(self):
        """Frozen: connections are accepted by the kernel, and nothing answers."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        self.process.send_signal(signal.SIGCONT)


@contextlib.contextmanager
def local_redis_server():
    """A RedisServer on a Unix socket only, in a short directory of its own (a socket's path
    is at most 107 bytes), stopped and removed after."""
    directory = Path(tempfile.mkdtemp(prefix="hb-redis-"))
    try:
        server = RedisServer(directory, socket=directory / "redis.sock")
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class RedisCluster:
    """Three masters, no replicas, every slot assigned, cluster_state:ok on each node."""

    def __init__(self, directory):
        skip_without_redis()
        self.nodes = []
        for i in range(3):
            port = free_port()
            self.nodes.append(RedisServer(Path(directory) / f"node{i}", port, "--cluster-enabled", "yes",
                                          "--cluster-config-file", f"nodes-{port}.conf",
                                          "--cluster-node-timeout", "2000"))
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        result = subprocess.run([REDIS_CLI, "--cluster", "create", *addresses, "--cluster-replicas", "0",
                                 "--cluster-yes"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        deadline = time.monotonic() + 30
        while not all("cluster_state:ok" in node.cli("CLUSTER", "INFO") for node in self.nodes):
            assert time.monotonic() < deadline, "the cluster did not come up"
            time.sleep(0.05)

    @property
    def url(self):
        return "redis-cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes[:2])

    def node_of(self, key):
        """The node that serves `key` now."""
        slot = int(self.nodes[0].cli("CLUSTER", "KEYSLOT", key))
        for node in self.nodes:
            for line in node.cli("CLUSTER", "NODES").splitlines():
                fields = line.split()
                if "myself" in fields[2]:
                    for assigned in fields[8:]:
                        first, _, last = assigned.partition("-")
                        if not first.startswith("[") and int(first) <= slot <= int(last or first):
                            return node
        raise AssertionError(f"no node serves slot {slot}")

    def stop(self):
        for node in self.nodes:
            node.stop()
