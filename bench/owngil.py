#!/usr/bin/python3
"""Own-GIL contexts against threads and processes, on this machine's 2 cores.

A CPU-bound WSGI app (bench/apps/cpu_app.py: a ~11 KB JSON document built per request) and a
hello world, served by one hornbeam build that embeds a Python >= 3.12 (PYTHON=... scripts/
build), under the arbiter, in these shapes:

    owngil 1x1   one worker, one own-GIL context
    owngil 1x2   one worker, two own-GIL contexts   (should approach 2x: two cores)
    thread 1x2   one worker, two thread contexts    (one GIL: should stay near 1x)
    procs 2x1    two workers of one thread context  (the process-based way to two cores),
                 sharing one socket, and with reuse_port (a socket each, balanced by the kernel)

The load generator (wrk, 2 threads) shares the 2 cores with the server: every shape pays for
it alike, and the table shows the server's own CPU time per request (its processes' utime +
stime, which the load generator cannot distort) next to the rates. Shapes take turns run by
run; medians with the spread. Memory: PSS (smaps_rollup) of the arbiter and its workers, for
one worker with N own-GIL contexts against N workers of one context, N = 2 and 4.

    bench/owngil.py [--python /path/to/python3.13] [--runs 5] [--duration 5] [--out FILE]"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import free_port, process_tree, wait_for_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "bench" / "apps"

SHAPES = {  # name: (workers, contexts, context_mode, reuse_port)
    "owngil 1x1": (1, 1, "owngil", False),
    "owngil 1x2": (1, 2, "owngil", False),
    "thread 1x2": (1, 2, "thread", False),
    "procs 2x1": (2, 1, "thread", False),
    "procs 2x1 reuse_port": (2, 1, "thread", True),
}
HELLO_SHAPES = {"owngil 1x1": (1, 1, "owngil", False), "thread 1x1": (1, 1, "thread", False)}


def build(python):
    subprocess.run([ROOT / "scripts" / "build"], env={**os.environ, "PYTHON": python}, check=True,
                   stdout=subprocess.DEVNULL)
    tag = subprocess.run([python, "-c", "import sys; print('%d%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return ROOT / f"build-py{tag}" / "arbiter" / "hornbeam-arbiter"


class Server:
    def __init__(self, arbiter, app, shape, tmp):
        workers, contexts, mode, reuse_port = shape
        self.port = free_port()
        config = Path(tmp) / f"{app.replace(':', '_')}-{workers}x{contexts}-{mode}-{reuse_port}.yaml"
        config.write_text(f"app: '{app}'\npythonpath: ['{APPS}']\nbind: ['127.0.0.1:{self.port}']\n"
                          f"workers: {workers}\ncontexts: {contexts}\ncontext_mode: {mode}\n"
                          f"reuse_port: {str(reuse_port).lower()}\nlogging: {{access_log: ''}}\n")
        self.process = subprocess.Popen([arbiter, "-c", config], stdout=subprocess.DEVNULL,
                                        stderr=open(config.with_suffix(".log"), "w"))
        wait_for_port(self.port, self.process)
        time.sleep(1.0)  # every worker ready (the port opens with the arbiter)

    def cpu_seconds(self):
        ticks = 0
        for pid in process_tree(self.process.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime (all threads)
            except (FileNotFoundError, ProcessLookupError):
                pass
        return ticks / os.sysconf("SC_CLK_TCK")

    def pss_kib(self):
        total = 0
        for pid in process_tree(self.process.pid):
            try:
                total += int(re.search(r"^Pss:\s+(\d+)", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M).group(1))
            except (FileNotFoundError, ProcessLookupError, AttributeError):
                pass
        return total

    def stop(self):
        self.process.terminate()
        self.process.wait(30)


def load(port, duration, connections=8):
    before = time.monotonic()
    output = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", f"http://127.0.0.1:{port}/"],
                            capture_output=True, text=True, timeout=duration + 60).stdout
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    errors = re.search(r"Socket errors: (.*)|Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(f"wrk saw errors: {errors.group(0)}")
    return requests, time.monotonic() - before


def measure(servers, runs, duration):
    results = {name: [] for name in servers}
    for server in servers.values():  # warm-up
        load(server.port, 1)
    for _ in range(runs):
        for name, server in servers.items():
            cpu_before = server.cpu_seconds()
            requests, elapsed = load(server.port, duration)
            cpu = server.cpu_seconds() - cpu_before
            results[name].append({"rps": requests / elapsed, "cpu_us": cpu / requests * 1e6,
                                  "cores": cpu / elapsed})
    return results


def median(runs, key):
    values = [run[key] for run in runs]
    return statistics.median(values), min(values), max(values)


def rate_table(results, base):
    base_rps = median(results[base], "rps")[0]
    lines = [f"| shape | req/s (min-max) | x {base} | server CPU per request | server cores busy |",
             "|---|---|---|---|---|"]
    for name, runs in results.items():
        rps, low, high = median(runs, "rps")
        lines.append(f"| {name} | {rps:,.0f} ({low:,.0f}-{high:,.0f}) | {rps / base_rps:.2f} | "
                     f"{median(runs, 'cpu_us')[0]:.0f} µs | {median(runs, 'cores')[0]:.2f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=subprocess.run([ROOT / "scripts" / "find-owngil-python"],
                                                           capture_output=True, text=True).stdout.strip())
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--out")
    args = parser.parse_args()
    if not args.python:
        sys.exit("no Python >= 3.12 with a shared libpython: give one with --python")
    arbiter = build(args.python)
    version = subprocess.run([arbiter, "--version"], capture_output=True, text=True).stdout.strip()
    report = [f"# Own-GIL contexts ({version}), {time.strftime('%Y-%m-%d %H:%M')}",
              f"\n{os.cpu_count()} cores shared by the server and wrk (-t2 -c8); {args.runs} runs of "
              f"{args.duration} s per shape, taking turns; medians (min-max).\n"]
    with tempfile.TemporaryDirectory() as tmp:
        for title, app, shapes, base in (("CPU-bound (cpu_app: ~11 KB of JSON per request)", "cpu_app:application",
                                          SHAPES, "owngil 1x1"),
                                         ("Hello world", "cpu_app:hello", HELLO_SHAPES, "thread 1x1")):
            servers = {name: Server(arbiter, app, shape, tmp) for name, shape in shapes.items()}
            try:
                results = measure(servers, args.runs, args.duration)
            finally:
                for server in servers.values():
                    server.stop()
            report += [f"## {title}\n", rate_table(results, base), ""]
        report += ["## Memory (PSS of the arbiter and its workers, after 2 s of the CPU-bound load)\n",
                   "| N | one worker, N own-GIL contexts | N workers of one context | ratio |", "|---|---|---|---|"]
        for n in (2, 4):
            pss = {}
            for name, shape in (("owngil", (1, n, "owngil", False)), ("procs", (n, 1, "thread", False))):
                server = Server(arbiter, "cpu_app:application", shape, tmp)
                try:
                    subprocess.run(["wrk", "-t2", f"-c{2 * n}", "-d2s", f"http://127.0.0.1:{server.port}/"],
                                   capture_output=True, check=True)
                    pss[name] = server.pss_kib()
                finally:
                    server.stop()
            report.append(f"| {n} | {pss['owngil'] / 1024:.1f} MiB | {pss['procs'] / 1024:.1f} MiB | "
                          f"{pss['owngil'] / pss['procs']:.2f} |")
    text = "\n".join(report) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
