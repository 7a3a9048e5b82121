#!/usr/bin/python3
"""What the I/O thread's polling before sleep (`io_spin_us`) costs in CPU, and what it buys.

A paced client (one keep-alive connection, on CPU 1) sends hello-world requests at fixed
rates to hornbeam-worker with the default `io_spin_us` (0) and with 50, and to uWSGI, each on
CPU 0 and taking turns run by run. For each rate it reports the server's CPU time per request
(all its threads, from /proc/<pid>/task/*/schedstat) and the client's latency.

Then the case that makes it off by default: hornbeam-arbiter with --workers (3) workers on
this 2-core machine, nothing pinned, under `wrk -t2 -c50`, with io_spin_us 0 and 50 taking
turns: req/s and p99.

    bench/spin_cost.py [--runs 3] [--duration 3] [--rates 200,1000,4000] [--workers 3] [--out FILE]

At a steady trickle of requests the polling should mostly stop by itself (it polls only while
that finds work), so the CPU per request should stay close to `io_spin_us: 0`'s; the latency
column shows where it pays off. Compare within one run."""

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402 - the HTTP benchmark's helpers

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
SERVERS = ("hornbeam", "hornbeam io_spin_us=50", "uwsgi")


def cpu_ns(pid):
    """CPU time of a process tree's threads so far, in ns."""
    total = 0
    for current in bench.process_tree(pid):
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def read_response(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(4096)


def paced(port, rate, duration, pid):
    """Requests at `rate` per second for `duration` s: (achieved rate, CPU us/request, p50, p99 us)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(50):  # warm the connection and the app
        sock.sendall(REQUEST)
        read_response(sock)
    interval = 1.0 / rate
    latencies = []
    cpu_before = cpu_ns(pid)
    start = time.perf_counter()
    next_send = start
    while next_send - start < duration:
        delay = next_send - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sent = time.perf_counter_ns()
        sock.sendall(REQUEST)
        read_response(sock)
        latencies.append((time.perf_counter_ns() - sent) / 1000)
        next_send += interval
    elapsed = time.perf_counter() - start
    cpu = cpu_ns(pid) - cpu_before
    sock.close()
    latencies.sort()
    return {"rate": len(latencies) / elapsed, "cpu_us": cpu / 1000 / len(latencies),
            "p50": latencies[len(latencies) // 2], "p99": latencies[int(len(latencies) * 0.99)]}


def arbiter(port, workers, spin):
    command = [str(bench.ROOT / "build" / "arbiter" / "hornbeam-arbiter"), "-b", f"127.0.0.1:{port}",
               "-w", str(workers), "--pythonpath", str(bench.APPS), "--io-spin-us", str(spin),
               "--logging-access-log", "", "--logging-level", "warning", "wsgi_app:application"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bench.wait_for_port(port, process)
    time.sleep(2)  # every worker booted
    return process


def unpinned_wrk(port, duration):
    output = subprocess.run(["wrk", "-t2", "-c50", f"-d{duration:g}s", "--latency", f"http://127.0.0.1:{port}/"],
                            capture_output=True, text=True, timeout=duration + 60).stdout
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "p99": bench.to_ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))}


def workers_check(workers, runs, duration):
    """Rows of the multi-worker table: io_spin_us 0 and 50 under the arbiter, unpinned."""
    os.sched_setaffinity(0, set(range(os.cpu_count())))
    results = {0: [], 50: []}
    running = {}
    try:
        for spin in results:
            port = bench.free_port()
            running[spin] = (arbiter(port, workers, spin), port)
            unpinned_wrk(port, 1)
        for _ in range(runs):
            for spin, (_, port) in running.items():
                results[spin].append(unpinned_wrk(port, duration))
    finally:
        for process, _ in running.values():
            process.send_signal(signal.SIGTERM)
            process.wait(30)
    lines = [f"| {workers} workers, io_spin_us | req/s (median, min-max) | p99 ms |", "|---|---|---|"]
    for spin, runs_of in results.items():
        rps = [run["rps"] for run in runs_of]
        lines.append(f"| {spin} | {statistics.median(rps):,.0f} ({min(rps):,.0f}-{max(rps):,.0f}) "
                     f"| {statistics.median(run['p99'] for run in runs_of):.2f} |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3)
    parser.add_argument("--rates", default="200,1000,4000")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    rates = [int(rate) for rate in args.rates.split(",")]
    os.sched_setaffinity(0, {int(bench.CLIENT_CPU)})
    results = {(name, rate): [] for name in SERVERS for rate in rates}
    with tempfile.TemporaryDirectory(prefix="hornbeam-spin-") as tmp:
        running = {}
        try:
            for name in SERVERS:
                port = bench.free_port()
                running[name] = (bench.start(name, bench.server_command(name, port, tmp), tmp, port), port)
            for _ in range(args.runs):
                for rate in rates:
                    for name, (process, port) in running.items():
                        results[(name, rate)].append(paced(port, rate, args.duration, process.pid))
        finally:
            for name, (process, _) in running.items():
                bench.stop(name, process)
    lines = ["| rate (req/s) | server | achieved | CPU µs per request | p50 µs | p99 µs |",
             "|---|---|---|---|---|---|"]
    for rate in rates:
        for name in SERVERS:
            runs = results[(name, rate)]
            median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            lines.append(f"| {rate} | {name} | {median['rate']:.0f} | {median['cpu_us']:.1f} "
                         f"| {median['p50']:.0f} | {median['p99']:.0f} |")
    lines += [""] + workers_check(args.workers, args.runs, args.duration)
    report = "\n".join(lines)
    print(report)
    if args.out:
        Path(args.out).write_text(f"`bench/spin_cost.py --runs {args.runs} --duration {args.duration} "
                                  f"--rates {args.rates} --workers {args.workers}`, medians of {args.runs} runs\n\n{report}\n")


if __name__ == "__main__":
    main()
