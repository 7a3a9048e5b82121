#!/usr/bin/python3
"""The shared state against Redis, on this machine.

1. Micro: ns per state_get / state_set / state_incr call from Python (small values), through
   hornbeam's store, through redis-py to a local redis-server (unix socket), and through
   pylib's process-local module (a dict under a lock: the floor of a Python call).
2. End to end: a page-hit counter app (bench/apps/counter_app.py) that increments per request,
   its counter in hornbeam's shared state vs in Redis, both served by hornbeam-worker (and the
   Redis one by Gunicorn gthread too, what such an app runs on today). The servers and
   redis-server run on CPU 0, wrk on CPU 1; the servers take turns run by run.

    bench/shared_state.py [--runs 3] [--duration 5] [--out FILE]

Compare the ratios of one run, never absolute numbers across runs."""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402 - the HTTP benchmark's helpers

ROOT = bench.ROOT
COUNTER = {"path": "/", "script": None}
CONNECTIONS = (1, 50)
SERVERS = ("hornbeam + shared state", "hornbeam + Redis", "gunicorn gthread + Redis")


def worker_command(port, app):
    return [str(bench.WORKER), "-b", f"127.0.0.1:{port}", "--pythonpath", str(bench.APPS), "--contexts", "1",
            "--logging-access-log", "", "--logging-level", "warning", app]


def server_commands(port_of):
    """The command of each of SERVERS."""
    return {
        "hornbeam + shared state": worker_command(port_of["hornbeam + shared state"], "counter_app:app"),
        "hornbeam + Redis": worker_command(port_of["hornbeam + Redis"], "counter_app:redis_app"),
        "gunicorn gthread + Redis": [
            "/usr/bin/python3", "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "4", "-b",
            f"127.0.0.1:{port_of['gunicorn gthread + Redis']}", "--chdir", str(bench.APPS), "--log-level",
            "warning", "counter_app:redis_app"],
    }


def start_redis(tmp):
    socket_path = Path(tmp) / "redis.sock"
    process = subprocess.Popen(
        ["taskset", "-c", bench.SERVER_CPU, "redis-server", "--port", "0", "--unixsocket", str(socket_path),
         "--save", "", "--appendonly", "no", "--dir", tmp],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if socket_path.exists():
            return process, socket_path
        subprocess.run(["sleep", "0.05"])
    raise RuntimeError("redis-server did not start")


def micro(port, runs):
    """{backend: {op: median ns}}."""
    results = {}
    for backend in ("hornbeam", "redis", "local"):
        samples = []
        for _ in range(runs):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/?backend={backend}", timeout=300) as answer:
                samples.append(dict((pair.split("=")[0], float(pair.split("=")[1]))
                                    for pair in answer.read().decode().split()))
        results[backend] = {op: statistics.median(sample[op] for sample in samples) for op in samples[0]}
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--out", type=Path, help="also write the report (markdown) here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        redis, socket_path = start_redis(tmp)
        # The servers inherit these (counter_app.py reads them).
        os.environ.update({"BENCH_REDIS_SOCKET": str(socket_path),
                           "BENCH_PYLIB": str(ROOT / "pylib" / "hornbeam.py")})
        running = {}
        try:
            micro_port = bench.free_port()
            micro_server = bench.start("micro", worker_command(micro_port, "counter_app:micro"), tmp, micro_port)
            try:
                micro_results = micro(micro_port, args.runs)
            finally:
                bench.stop("hornbeam", micro_server)
            print("  micro done", file=sys.stderr, flush=True)

            ports = {name: bench.free_port() for name in SERVERS}
            for name, command in server_commands(ports).items():
                running[name] = bench.start(name, command, tmp, ports[name])
            results = {name: {} for name in running}
            for connections in CONNECTIONS:
                for name in running:  # warm-up
                    bench.run_wrk(ports[name], COUNTER, connections, 1)
                for _ in range(args.runs):
                    for name in running:
                        results[name].setdefault(connections, []).append(
                            bench.run_wrk(ports[name], COUNTER, connections, args.duration))
                print(f"  counter at {connections} connection(s) done", file=sys.stderr, flush=True)
        finally:
            for name, process in running.items():
                bench.stop(name, process)
            redis.terminate()
            redis.wait(10)

    report = render(micro_results, results, args)
    print(report)
    if args.out:
        args.out.write_text(report)


def render(micro_results, results, args):
    lines = [f"# Shared state vs Redis ({args.runs} runs of {args.duration}s, medians; servers and redis-server "
             f"on CPU {bench.SERVER_CPU}, wrk on CPU {bench.CLIENT_CPU})", "",
             "## Micro: ns per call from Python, small values", "",
             "| call | hornbeam store | redis-py (unix socket) | process-local dict | Redis / hornbeam |",
             "|---|---:|---:|---:|---:|"]
    for op in ("get", "set", "incr"):
        ours, theirs, local = (micro_results[b][op] for b in ("hornbeam", "redis", "local"))
        lines.append(f"| state_{op} | {ours:.0f} | {theirs:.0f} | {local:.0f} | {theirs / ours:.1f}× |")
    lines += ["", "## A counter incremented per request (req/s; p99 ms)", "",
              "| server | " + " | ".join(f"c={c} req/s | c={c} p99" for c in CONNECTIONS) + " |",
              "|---|" + "---:|---:|" * len(CONNECTIONS)]
    medians = {}
    for name, cells in results.items():
        row = [name]
        for connections in CONNECTIONS:
            runs = cells[connections]
            rps = statistics.median(run["rps"] for run in runs)
            medians[(name, connections)] = rps
            errors = "; ".join(run["errors"] for run in runs if run["errors"])
            row += [f"{rps:,.0f}" + (f" ({errors})" if errors else ""),
                    f"{statistics.median(run['p99'] for run in runs):.2f}"]
        lines.append("| " + " | ".join(row) + " |")
    lines += [""]
    for connections in CONNECTIONS:
        ours = medians[("hornbeam + shared state", connections)]
        lines.append(f"- c={connections}: hornbeam + shared state is "
                     f"{ours / medians[('hornbeam + Redis', connections)]:.2f}× hornbeam + Redis and "
                     f"{ours / medians[('gunicorn gthread + Redis', connections)]:.2f}× Gunicorn gthread + Redis")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
