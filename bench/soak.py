#!/usr/bin/python3
"""Soak: mixed load against an arbiter with 3 ASGI workers while workers are SIGKILLed and the
arbiter reloaded (HUP), for 10 minutes by default. Not in CI (see docs/fuzzing.md for results).

Load, each kind from its own threads: keep-alive GETs, pipelined GETs, chunked uploads echoed
back (checked byte for byte), slow clients (a head sent byte by byte), websocket echoes, and
malformed requests (the request corpus' invalid cases and the request-head fuzzer's corpus,
when build-fuzz/ has one).

Afterwards it reports, and fails (exit 1) when one does not hold:
- every well-formed request got a well-formed answer, except those in flight on a worker at
  the moment it was SIGKILLed (a failure within 2 s of a kill is counted apart);
- no malformed request got a 5xx or a hang (an answer or a close within the header timeout);
- RSS per worker is flat: the slope of each worker that lived 3 minutes or more (the oldest
  worker is never the one killed, so one lives from HUP to HUP), over the second half of its
  life (after warm-up), stays under 1 MiB a minute (a leak of 20 bytes a request);
- no file descriptor leaked: the arbiter's count at the end equals the start's, and an idle
  worker at the end (clients gone, kept-alive connections timed out) holds no more than an
  idle worker at the start.

    bench/soak.py [--seconds 600] [--kill-every 30] [--hup-every 300]"""

import argparse
import asyncio
import base64
import hashlib
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import websockets

ROOT = Path(__file__).resolve().parent.parent
ARBITER = ROOT / "build" / "arbiter" / "hornbeam-arbiter"
CORPUS = ROOT.parent / "shared" / "corpus" / "http-requests"
FUZZ_CORPUS = ROOT / "build-fuzz" / "corpus" / "request_head_fuzzer"
KILL_GRACE = 2.0  # a failure this soon after a SIGKILL is the killed worker's in-flight work


def start_time(pid):
    """When a process started (clock ticks since boot), from /proc/PID/stat."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.failures = []  # (time, kind, what)

    def ok(self, kind):
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def fail(self, kind, what):
        with self.lock:
            self.failures.append((time.monotonic(), kind, what))


class Soak:
    def __init__(self, args, tmp):
        self.args = args
        self.tmp = Path(tmp)
        self.stop = threading.Event()
        self.tally = Tally()
        self.kills = []  # monotonic times of SIGKILLs
        self.samples = {}  # worker pid -> [(t, rss_kib, fds)]
        self.arbiter_fds = []
        config = {
            "app": "asgi_app:app", "worker_class": "asgi", "pythonpath": [str(ROOT / "bench" / "apps")],
            "bind": ["127.0.0.1:0"], "workers": 3, "timeout": "30s", "graceful_timeout": "10s",
            "limits": {"header_timeout": "5s"}, "logging": {"access_log": ""},
        }
        (self.tmp / "hornbeam.yaml").write_text(json.dumps(config))
        self.log = open(self.tmp / "error.log", "w+")
        self.arbiter = subprocess.Popen([str(ARBITER), "-c", str(self.tmp / "hornbeam.yaml")],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log)
        self.port = self.wait_for_port()

    def wait_for_port(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = Path(self.log.name).read_text()
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", text)
            if match and re.search(r"generation 1: 3 worker\(s\) ready", text):
                return int(match.group(1))
            time.sleep(0.1)
        sys.exit("the arbiter did not start:\n" + Path(self.log.name).read_text())

    def workers(self):
        path = Path(f"/proc/{self.arbiter.pid}/task/{self.arbiter.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    # --- load --------------------------------------------------------------------------------

    def keep_alive(self):
        session = requests.Session()
        while not self.stop.is_set():
            try:
                response = session.get(f"http://127.0.0.1:{self.port}/", timeout=15)
                if response.status_code == 200 and response.content == b"Hello, World!":
                    self.tally.ok("keep-alive")
                else:
                    self.tally.fail("keep-alive", f"{response.status_code} {response.content[:40]!r}")
            except requests.RequestException as error:
                self.tally.fail("keep-alive", repr(error))
                session = requests.Session()

    def pipelined(self):
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=15) as sock:
                    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 5)
                    received = b""
                    while received.count(b"Hello, World!") < 5:
                        data = sock.recv(65536)
                        if not data:
                            break
                        received += data
                answers = received.count(b"Hello, World!")
                if answers == 5 and received.count(b"HTTP/1.1 200 OK") == 5:
                    self.tally.ok("pipelined")
                elif answers and received.rsplit(b"HTTP/1.1 ", 1)[1].lower().count(b"connection: close"):
                    # A stopping worker (HUP) answers with Connection: close and closes: the
                    # requests behind that answer are the client's to send again (RFC 9112 9.3.2).
                    self.tally.ok("pipelined, the rest refused by Connection: close")
                else:
                    raise ConnectionError(f"closed after {answers} answers")
            except (OSError, ValueError) as error:
                self.tally.fail("pipelined", repr(error))

    def chunked_upload(self):
        rng = random.Random(threading.get_ident())
        while not self.stop.is_set():
            pieces = [os.urandom(rng.randrange(1, 128 * 1024)) for _ in range(rng.randrange(1, 24))]
            body = b"".join(pieces)
            try:
                response = requests.post(f"http://127.0.0.1:{self.port}/echo", data=iter(pieces), timeout=30)
                if response.status_code == 200 and hashlib.sha256(response.content).digest() == hashlib.sha256(body).digest():
                    self.tally.ok("chunked upload")
                else:
                    self.tally.fail("chunked upload", f"{response.status_code}, {len(response.content)} of {len(body)} bytes")
            except requests.RequestException as error:
                self.tally.fail("chunked upload", repr(error))

    def slow_client(self):
        head = b"GET /?slow HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\nConnection: close\r\n\r\n"
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=15) as sock:
                    for byte in head:
                        sock.sendall(bytes([byte]))
                        time.sleep(0.02)  # about 1.2 s for the head: within the 5 s deadline
                    received = b""
                    while data := sock.recv(65536):
                        received += data
                if received.startswith(b"HTTP/1.1 200") and received.endswith(b"Hello, World!"):
                    self.tally.ok("slow client")
                else:
                    self.tally.fail("slow client", repr(received[:80]))
            except OSError as error:
                self.tally.fail("slow client", repr(error))

    def websocket_load(self):
        async def one_connection(rng):
            async with websockets.connect(f"ws://127.0.0.1:{self.port}/ws", max_size=None) as ws:
                for _ in range(rng.randrange(1, 50)):
                    message = os.urandom(rng.randrange(1, 200 * 1024)) if rng.random() < 0.5 else "x" * rng.randrange(1, 5000)
                    await ws.send(message)
                    if await ws.recv() != message:
                        raise ValueError("echo differs")

        async def loop():
            rng = random.Random(1)
            while not self.stop.is_set():
                try:
                    await asyncio.wait_for(one_connection(rng), 60)
                    self.tally.ok("websocket")
                except websockets.ConnectionClosed as error:
                    if error.rcvd and error.rcvd.code == 1001:  # its worker stops (HUP): goes away
                        self.tally.ok("websocket closed with 1001 by a reload")
                    else:
                        self.tally.fail("websocket", repr(error))
                except (OSError, ValueError, asyncio.TimeoutError, websockets.WebSocketException) as error:
                    self.tally.fail("websocket", repr(error))

        asyncio.run(loop())

    def malformed(self):
        cases = [base64.b64decode(json.loads(path.read_text())["raw_base64"]) for path in sorted(CORPUS.glob("invalid/*.json"))]
        if FUZZ_CORPUS.is_dir():
            for path in sorted(FUZZ_CORPUS.iterdir())[:3000]:
                try:
                    cases.append(path.read_bytes())
                except OSError:
                    pass  # a fuzzer running meanwhile replaced it
        rng = random.Random(2)
        while not self.stop.is_set():
            raw = rng.choice(cases)
            started = time.monotonic()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=15) as sock:
                    sock.sendall(raw)
                    sock.shutdown(socket.SHUT_WR)
                    received = b""
                    while data := sock.recv(65536):
                        received += data
                statuses = [int(status) for status in re.findall(rb"^HTTP/1\.[01] (\d{3})", received, re.M)]
                if any(status >= 500 for status in statuses):
                    self.tally.fail("malformed", f"{statuses} for {raw[:80]!r}")
                else:
                    self.tally.ok("malformed")
            except ConnectionResetError:
                self.tally.ok("malformed")  # refused and closed before all was read: fine
            except OSError as error:
                self.tally.fail("malformed", f"{error!r} after {time.monotonic() - started:.1f} s for {raw[:80]!r}")

    # --- chaos and sampling ------------------------------------------------------------------

    def chaos(self):
        rng = random.Random(3)
        next_kill = time.monotonic() + self.args.kill_every
        next_hup = time.monotonic() + self.args.hup_every
        while not self.stop.wait(0.5):
            now = time.monotonic()
            if now >= next_kill:
                # The oldest worker is spared, so that one lives from one HUP to the next
                # and its memory can be followed.
                workers = sorted(self.workers(), key=start_time)[1:]
                if workers:
                    victim = rng.choice(workers)
                    self.kills.append(time.monotonic())
                    os.kill(victim, signal.SIGKILL)
                next_kill = now + self.args.kill_every
            if now >= next_hup:
                self.arbiter.send_signal(signal.SIGHUP)
                next_hup = now + self.args.hup_every

    def sample(self):
        started = time.monotonic()
        while not self.stop.wait(5):
            now = (time.monotonic() - started) / 60
            self.arbiter_fds.append(len(os.listdir(f"/proc/{self.arbiter.pid}/fd")))
            for pid in self.workers():
                try:
                    rss = int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))
                    fds = len(os.listdir(f"/proc/{pid}/fd"))
                except (OSError, AttributeError):
                    continue
                self.samples.setdefault(pid, []).append((now, rss, fds))

    # --- run and report ----------------------------------------------------------------------

    def idle_worker_fds(self):
        """File descriptors of each worker while no client is connected."""
        counts = []
        for pid in self.workers():
            try:
                counts.append(len(os.listdir(f"/proc/{pid}/fd")))
            except OSError:
                pass
        return counts

    def run(self):
        time.sleep(2)
        arbiter_fds_before = len(os.listdir(f"/proc/{self.arbiter.pid}/fd"))
        self.worker_fds_before = self.idle_worker_fds()
        threads = [threading.Thread(target=target, daemon=True) for target in
                   [self.keep_alive] * 4 + [self.pipelined] * 2 + [self.chunked_upload] * 2 +
                   [self.slow_client] * 3 + [self.websocket_load] * 2 + [self.malformed] * 2 +
                   [self.chaos, self.sample]]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + self.args.seconds
        while time.monotonic() < deadline:
            time.sleep(10)
            with self.tally.lock:
                total = sum(self.tally.counts.values())
            print(f"  {int(deadline - time.monotonic()):4d} s left: {total} exchanges, "
                  f"{len(self.tally.failures)} failures, {len(self.kills)} kills", flush=True)
        self.stop.set()
        for thread in threads:
            thread.join(90)
        time.sleep(12)  # HUPs and kills settle, kept-alive connections time out (keepalive 5 s)
        arbiter_fds_after = len(os.listdir(f"/proc/{self.arbiter.pid}/fd"))
        self.worker_fds_after = self.idle_worker_fds()
        self.arbiter.send_signal(signal.SIGTERM)
        code = self.arbiter.wait(60)
        return self.report(arbiter_fds_before, arbiter_fds_after, code)

    def report(self, fds_before, fds_after, exit_code):
        ok = True
        print(f"\nsoak: {self.args.seconds} s, 3 workers, {len(self.kills)} SIGKILLs, "
              f"HUP every {self.args.hup_every} s; arbiter exit {exit_code}")
        print("answers:", ", ".join(f"{kind} {count}" for kind, count in sorted(self.tally.counts.items())))
        near_kill = [f for f in self.tally.failures if any(0 <= f[0] - kill <= KILL_GRACE for kill in self.kills)]
        unexplained = [f for f in self.tally.failures if f not in near_kill]
        print(f"failures within {KILL_GRACE} s of a SIGKILL (in flight on the killed worker): {len(near_kill)}")
        print(f"other failures: {len(unexplained)}")
        for when, kind, what in unexplained[:20]:
            print(f"  {kind}: {what}")
        ok &= not unexplained and exit_code == 0
        slopes = []
        for pid, series in sorted(self.samples.items()):
            if series[-1][0] - series[0][0] < 3:
                continue
            half = series[len(series) // 2:]
            times = [t for t, _, _ in half]
            rss = [r for _, r, _ in half]
            slope = statistics.linear_regression(times, rss).slope if len(set(times)) > 1 else 0.0
            slopes.append((pid, series[-1][0] - series[0][0], rss[0], rss[-1], slope))
        print("workers that lived 3 minutes or more (the second half of their life):")
        for pid, life, first, last, slope in slopes:
            print(f"  pid {pid}: {life:.1f} min, RSS {first / 1024:.1f} -> {last / 1024:.1f} MiB, "
                  f"slope {slope:+.0f} KiB/min")
            # A leak of 20 bytes a request is 1 MiB a minute at this soak's rate per worker.
            ok &= slope < 1024
        print(f"idle worker fds: {self.worker_fds_before} at the start, {self.worker_fds_after} at the end")
        ok &= bool(self.worker_fds_after) and max(self.worker_fds_after) <= max(self.worker_fds_before)
        print(f"arbiter fds: {fds_before} at the start, {fds_after} at the end "
              f"(min {min(self.arbiter_fds, default=0)}, max {max(self.arbiter_fds, default=0)})")
        ok &= fds_after <= fds_before
        print("soak:", "passed" if ok else "FAILED")
        return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--kill-every", type=float, default=30)
    parser.add_argument("--hup-every", type=float, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        soak = Soak(args, tmp)
        try:
            sys.exit(soak.run())
        finally:
            if soak.arbiter.poll() is None:
                soak.arbiter.kill()
            print("error log:", Path(soak.log.name).read_text().count("\n"), "lines;",
                  "tracebacks:", Path(soak.log.name).read_text().count("Traceback"))


if __name__ == "__main__":
    main()
