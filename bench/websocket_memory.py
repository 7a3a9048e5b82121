#!/usr/bin/python3
"""Memory per idle WebSocket: opens N connections (default 10,000) to one server process, each
handshaken and left idle, and reports the server's RSS growth per connection. Runs hornbeam's
ASGI worker and uvicorn side by side on the same app (bench/apps/asgi_app.py, /ws).

    bench/websocket_memory.py [--connections 10000] [--servers hornbeam,uvicorn]"""

import argparse
import base64
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import APPS, free_port, server_command, start, stop, tree_rss_kib  # noqa: E402

NAMES = {"hornbeam": "hornbeam asgi", "uvicorn": "uvicorn"}


def open_websockets(port, count):
    sockets = []
    request = (b"GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ")
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(request + base64.b64encode(os.urandom(16)) + b"\r\n\r\n")
        sockets.append(sock)
    for sock in sockets:  # every handshake answered before measuring
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise RuntimeError("the server closed a websocket during the handshake")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"handshake refused: {head[:60]!r}")
    return sockets


def measure(name, connections, tmp):
    port = free_port()
    process = start(name, server_command(name, port, tmp), tmp, port)
    try:
        time.sleep(1)
        before = tree_rss_kib(process.pid)
        sockets = open_websockets(port, connections)
        time.sleep(2)
        after = tree_rss_kib(process.pid)
        for sock in sockets:
            sock.close()
        return before, after
    finally:
        stop(name, process)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--servers", default="hornbeam,uvicorn")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < args.connections + 100:
        sys.exit(f"the open-files limit ({hard}) is below {args.connections} connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    import tempfile
    print(f"| server | RSS idle | RSS with {args.connections:,} idle websockets | per connection |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="hornbeam-wsmem-") as tmp:
        for short in args.servers.split(","):
            before, after = measure(NAMES[short], args.connections, tmp)
            print(f"| {NAMES[short]} | {before / 1024:.1f} MiB | {after / 1024:.1f} MiB | "
                  f"{(after - before) * 1024 / args.connections / 1024:.1f} KiB |", flush=True)


if __name__ == "__main__":
    main()
