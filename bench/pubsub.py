#!/usr/bin/python3
"""Pub/sub fan-out: 1 publisher, 1,000 WebSocket subscribers over 2 workers (an arbiter), on
the host's shared memory and on Redis (a local redis-server). The publisher (inside a worker)
sends timestamped messages at a steady rate; a client process holds the WebSockets and
measures each message's delay from publish to its arrival.

    bench/pubsub.py [--subscribers 1000] [--messages 200] [--rate 100]

Reports deliveries per second (messages × subscribers that arrived, over the time they took)
and the delay's p50 and p99."""

import argparse
import base64
import json
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import APPS, ROOT, free_port  # noqa: E402

ARBITER = ROOT / "build" / "arbiter" / "hornbeam-arbiter"


def start_arbiter(tmp, port, backend):
    config = {"app": "pubsub_app:app", "worker_class": "asgi", "workers": 2, "bind": [f"127.0.0.1:{port}"],
              "pythonpath": [str(APPS)], "logging": {"access_log": "", "level": "warning"},
              "shared_state": {"backend": backend}}
    path = Path(tmp) / "hornbeam.yaml"
    path.write_text(json.dumps(config))
    process = subprocess.Popen([str(ARBITER), "-c", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the arbiter did not start")


def open_websockets(port, count):
    request = (b"GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ")
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(request + base64.b64encode(os.urandom(16)) + b"\r\n\r\n")
        sockets.append(sock)
    buffers = {}
    for sock in sockets:
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 101"), head[:60]
        buffers[sock] = head.split(b"\r\n\r\n", 1)[1]
        sock.setblocking(False)
    return sockets, buffers


def frames(buffer):
    """Complete unmasked frames' payloads in `buffer`, and what is left."""
    payloads = []
    while len(buffer) >= 2:
        length, at = buffer[1] & 0x7F, 2
        if length == 126:
            if len(buffer) < 4:
                break
            length, at = int.from_bytes(buffer[2:4], "big"), 4
        if len(buffer) < at + length:
            break
        payloads.append(buffer[at:at + length])
        buffer = buffer[at + length:]
    return payloads, buffer


def measure(port, subscribers, messages, rate):
    sockets, buffers = open_websockets(port, subscribers)
    time.sleep(1)  # every subscription made
    selector = selectors.DefaultSelector()
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ)
    answer = {}
    publisher = threading.Thread(target=lambda: answer.update(json.load(urllib.request.urlopen(
        f"http://127.0.0.1:{port}/?count={messages}&rate={rate}", timeout=600))))
    publisher.start()
    delays, first, last = [], None, None
    expected = subscribers * messages
    deadline = time.monotonic() + messages / rate + 30
    while len(delays) < expected and time.monotonic() < deadline:
        for key, _ in selector.select(1):
            data = key.fileobj.recv(65536)
            payloads, buffers[key.fileobj] = frames(buffers[key.fileobj] + data)
            now = time.time()
            for payload in payloads:
                delays.append(now - json.loads(payload)["t"])
                first = first or now
                last = now
    publisher.join()
    for sock in sockets:
        sock.close()
    delays.sort()
    return {"delivered": len(delays), "expected": expected, "reached": answer.get("reached"),
            "per_second": len(delays) / (last - first) if last and last > first else 0,
            "p50_ms": 1000 * statistics.median(delays) if delays else None,
            "p99_ms": 1000 * delays[int(len(delays) * 0.99) - 1] if delays else None}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100, help="messages per second")
    args = parser.parse_args()
    import resource
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        redis_port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)
        try:
            for name, backend in (("shared memory", "shm"), ("Redis", f"redis://127.0.0.1:{redis_port}/0")):
                port = free_port()
                arbiter = start_arbiter(tmp, port, backend)
                try:
                    results[name] = measure(port, args.subscribers, args.messages, args.rate)
                finally:
                    arbiter.terminate()
                    arbiter.wait(30)
                print(f"  {name} done", file=sys.stderr, flush=True)
        finally:
            redis.terminate()
            redis.wait(10)
    print(f"# Pub/sub fan-out: 1 publisher, {args.subscribers} WebSocket subscribers over 2 workers, "
          f"{args.messages} messages at {args.rate:g}/s\n")
    print("| backend | delivered | deliveries/s | delay p50 ms | delay p99 ms | publish's count |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['delivered']:,} of {r['expected']:,} | {r['per_second']:,.0f} | {r['p50_ms']:.2f} "
              f"| {r['p99_ms']:.2f} | {r['reached']} |")


if __name__ == "__main__":
    main()
