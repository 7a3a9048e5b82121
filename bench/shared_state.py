#!/usr/bin/python3
"""The shared state against Redis, on this machine.

1. Micro: ns per state_get / state_set / state_incr call from Python (small values), through
   hornbeam's shared-memory store, through hornbeam's Redis backend and through redis-py to
   the same local redis-server (loopback TCP), and through pylib's process-local module (a
   dict under a lock: the floor of a Python call). Beside it, the CPU time per call of the
   worker and of redis-server. Twice: with redis-server on the worker's core, where Redis's own
   work (the same for both clients) sits inside every call, and on a core of its own (wrk's,
   idle during the micro), as Redis runs in production, where a call's time is the client's
   and the round trip's.
2. End to end: a page-hit counter app (bench/apps/counter_app.py) that increments per request,
   its counter in hornbeam's shared memory, in Redis through hornbeam's backend (the same
   app), or in Redis through redis-py, served by hornbeam-worker (and the redis-py one by
   Gunicorn gthread too, what such an app runs on today). The servers and redis-server run on
   CPU 0, wrk on CPU 1; the servers take turns run by run. Beside req/s, the CPU time per
   request of the server and of redis-server (their sum is what a request costs that core,
   which the machine's noise moves less than req/s).

    bench/shared_state.py [--runs 3] [--duration 5] [--out FILE] [--unix-socket] [--redis-cpu N]
                          [--threads N]

With --unix-socket, both Redis clients reach redis-server through its Unix socket
(`unix://PATH`) instead of loopback TCP: what a Redis on the same host is best reached by.
With --redis-cpu 1, redis-server runs on the load generator's CPU instead of the servers' in
the counter runs: a Redis that does not take turns with the worker on one core (as on a
machine with cores to spare), at the price of sharing wrk's core. --threads sets the contexts
(Gunicorn's threads) of the three Redis rows, 4 by default: more of them wait on Redis at once,
and the backend pipelines more calls per round trip.

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
SERVERS = ("hornbeam + shared memory", "hornbeam + Redis backend", "hornbeam + redis-py",
           "gunicorn gthread + redis-py")
# The Redis rows run 4 threads each by default (hornbeam's contexts, Gunicorn's threads): what
# waits on Redis leaves the GIL to the others, and the backend pipelines their calls.
REDIS_THREADS = 4


def worker_command(port, app, *options, contexts="1"):
    return [str(bench.WORKER), "-b", f"127.0.0.1:{port}", "--pythonpath", str(bench.APPS), "--contexts", contexts,
            "--logging-access-log", "", "--logging-level", "warning", *options, app]


def server_commands(port_of, redis_url, threads):
    """The command of each of SERVERS, the Redis rows with `threads` contexts or threads."""
    threads = str(threads)
    return {
        "hornbeam + shared memory": worker_command(port_of["hornbeam + shared memory"], "counter_app:app"),
        "hornbeam + Redis backend": worker_command(port_of["hornbeam + Redis backend"], "counter_app:app",
                                                   "--shared-state-backend", redis_url, contexts=threads),
        "hornbeam + redis-py": worker_command(port_of["hornbeam + redis-py"], "counter_app:redis_app",
                                              contexts=threads),
        "gunicorn gthread + redis-py": [
            "/usr/bin/python3", "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", threads, "-b",
            f"127.0.0.1:{port_of['gunicorn gthread + redis-py']}", "--chdir", str(bench.APPS), "--log-level",
            "warning", "counter_app:redis_app"],
    }


def start_redis(tmp, unix_socket, cpu):
    """redis-server on a loopback port (and a Unix socket in `tmp` with `unix_socket`), for
    redis-py and hornbeam's backend alike: the URL they use."""
    port = bench.free_port()
    socket = Path(tmp) / "redis.sock"
    local = ["--unixsocket", str(socket), "--unixsocketperm", "700"] if unix_socket else []
    process = subprocess.Popen(
        ["taskset", "-c", cpu, "redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", tmp, *local],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reach = ["-s", str(socket)] if unix_socket else ["-p", str(port)]
    for _ in range(200):
        if subprocess.run(["redis-cli", *reach, "PING"], capture_output=True, text=True).stdout.strip() == "PONG":
            return process, f"unix://{socket}" if unix_socket else f"redis://127.0.0.1:{port}/0"
        subprocess.run(["sleep", "0.05"])
    raise RuntimeError("redis-server did not start")


def counter_run(process, port, connections, duration, redis):
    """One wrk run of the counter, with redis-server's CPU time per request beside the server's:
    both share the server's core, so their sum is what a request costs it (the servers take
    turns, so Redis works for one of them at a time)."""
    redis_before = bench.tree_cpu_seconds(redis.pid)
    result = bench.run_wrk((process, port), COUNTER, connections, duration)
    redis_cpu = bench.tree_cpu_seconds(redis.pid) - redis_before
    result["redis_cpu_us"] = redis_cpu * 1e6 / max(result["requests"], 1)
    return result


MICRO_BACKENDS = ("hornbeam", "hornbeam redis", "redis", "local")


# Calls one micro request makes (counter_app.micro: get, set and incr, 20,000 each on the
# network), for the CPU time per call.
MICRO_NETWORK_CALLS = 3 * 20_000


# Where redis-server runs during the micro: each placement is a table of the report.
MICRO_PLACEMENTS = {bench.SERVER_CPU: "redis-server on the worker's core",
                    bench.CLIENT_CPU: "redis-server on a core of its own"}


def pin(process, cpu):
    """Moves every thread of a running process to `cpu`."""
    subprocess.run(["taskset", "-a", "-p", "-c", cpu, str(process.pid)], check=True, capture_output=True)


def micro(servers, redis, runs):
    """{backend: {op: median ns}}, and for the two Redis clients {backend: (worker µs, Redis µs)}:
    the CPU time per call of the worker that calls and of redis-server, over get, set and incr.
    `servers`: (process, port) of the plain worker and of the one whose state is on Redis
    ("hornbeam redis" is the `hornbeam` module of the latter)."""
    results, cpu = {}, {}
    for backend in MICRO_BACKENDS:
        samples, worker_us, redis_us = [], [], []
        for _ in range(runs):
            (process, where), name = (servers[1], "hornbeam") if backend == "hornbeam redis" else (servers[0], backend)
            worker_before, redis_before = bench.tree_cpu_seconds(process.pid), bench.tree_cpu_seconds(redis.pid)
            with urllib.request.urlopen(f"http://127.0.0.1:{where}/?backend={name}", timeout=300) as answer:
                samples.append(dict((pair.split("=")[0], float(pair.split("=")[1]))
                                    for pair in answer.read().decode().split()))
            worker_us.append((bench.tree_cpu_seconds(process.pid) - worker_before) * 1e6 / MICRO_NETWORK_CALLS)
            redis_us.append((bench.tree_cpu_seconds(redis.pid) - redis_before) * 1e6 / MICRO_NETWORK_CALLS)
        results[backend] = {op: statistics.median(sample[op] for sample in samples) for op in samples[0]}
        if backend in ("hornbeam redis", "redis"):
            cpu[backend] = (statistics.median(worker_us), statistics.median(redis_us))
    return results, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--out", type=Path, help="also write the report (markdown) here")
    parser.add_argument("--unix-socket", action="store_true",
                        help="both clients reach Redis through its Unix socket, not loopback TCP")
    parser.add_argument("--redis-cpu", default=bench.SERVER_CPU,
                        help=f"the CPU redis-server runs on (default {bench.SERVER_CPU}, the servers')")
    parser.add_argument("--threads", type=int, default=REDIS_THREADS,
                        help=f"contexts (threads) of the Redis rows (default {REDIS_THREADS})")
    args = parser.parse_args()
    # Gunicorn, redis-server, redis-py and wrk come from Debian: a fresh machine has none.
    subprocess.run([str(ROOT / "bench" / "setup")], check=True)

    with tempfile.TemporaryDirectory() as tmp:
        redis, redis_url = start_redis(tmp, args.unix_socket, args.redis_cpu)
        # The servers inherit these (counter_app.py reads them).
        os.environ.update({"BENCH_REDIS_URL": redis_url, "BENCH_PYLIB": str(ROOT / "pylib" / "hornbeam.py")})
        running = {}
        try:
            micro_port, redis_port = bench.free_port(), bench.free_port()
            micro_servers = [
                (bench.start("micro", worker_command(micro_port, "counter_app:micro"), tmp, micro_port), micro_port),
                (bench.start("micro redis", worker_command(redis_port, "counter_app:micro", "--shared-state-backend",
                                                           redis_url), tmp, redis_port), redis_port)]
            try:
                micro_results = {}
                for cpu in MICRO_PLACEMENTS:
                    pin(redis, cpu)
                    micro_results[cpu] = micro(micro_servers, redis, args.runs)
                pin(redis, args.redis_cpu)
            finally:
                for server, _ in micro_servers:
                    bench.stop("hornbeam", server)
            print("  micro done", file=sys.stderr, flush=True)

            ports = {name: bench.free_port() for name in SERVERS}
            for name, command in server_commands(ports, redis_url, args.threads).items():
                running[name] = bench.start(name, command, tmp, ports[name])
            results = {name: {} for name in running}
            for connections in CONNECTIONS:
                for name in running:  # warm-up
                    bench.run_wrk((running[name], ports[name]), COUNTER, connections, 1)
                for _ in range(args.runs):
                    for name in running:
                        results[name].setdefault(connections, []).append(
                            counter_run(running[name], ports[name], connections, args.duration, redis))
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
    lines = [f"# Shared state vs Redis ({args.runs} runs of {args.duration}s, medians; servers on CPU "
             f"{bench.SERVER_CPU}, wrk on CPU {bench.CLIENT_CPU}, redis-server on CPU {args.redis_cpu} in the counter "
             f"runs; Redis on {'its Unix socket' if args.unix_socket else 'loopback TCP'}; {args.threads} contexts or "
             f"threads in the Redis rows)"]
    for cpu, placement in MICRO_PLACEMENTS.items():
        lines += render_micro(micro_results[cpu], placement, shares_the_core=cpu == bench.SERVER_CPU)
    redis_shares_the_core = args.redis_cpu == bench.SERVER_CPU
    shared = ", which share the server's core" if redis_shares_the_core else ""
    lines += ["", "## A counter incremented per request (req/s; p99 ms; CPU µs per request of the server "
                  f"and of redis-server{shared})", "",
              "| server | " + " | ".join(f"c={c} req/s | c={c} p99 | c={c} CPU server + Redis" for c in CONNECTIONS)
              + " |",
              "|---|" + "---:|---:|---:|" * len(CONNECTIONS)]
    medians, cpu = {}, {}
    for name, cells in results.items():
        row = [name]
        for connections in CONNECTIONS:
            runs = cells[connections]
            rps = statistics.median(run["rps"] for run in runs)
            medians[(name, connections)] = rps
            server_us = statistics.median(run["cpu_us"] for run in runs)
            redis_us = statistics.median(run["redis_cpu_us"] for run in runs)
            cpu[(name, connections)] = server_us + redis_us
            errors = "; ".join(run["errors"] for run in runs if run["errors"])
            row += [f"{rps:,.0f}" + (f" ({errors})" if errors else ""),
                    f"{statistics.median(run['p99'] for run in runs):.2f}",
                    f"{server_us:.1f} + {redis_us:.1f}"]
        lines.append("| " + " | ".join(row) + " |")
    lines += [""]
    for connections in CONNECTIONS:
        backend = medians[("hornbeam + Redis backend", connections)]
        by_cpu = cpu[("hornbeam + redis-py", connections)] / cpu[("hornbeam + Redis backend", connections)]
        lines.append(f"- c={connections}: shared memory is "
                     f"{medians[('hornbeam + shared memory', connections)] / backend:.2f}× the Redis backend; "
                     f"the Redis backend is {backend / medians[('hornbeam + redis-py', connections)]:.2f}× "
                     f"the same app on redis-py ({by_cpu:.2f}× by CPU per request, server + Redis) and "
                     f"{backend / medians[('gunicorn gthread + redis-py', connections)]:.2f}× Gunicorn gthread "
                     f"with redis-py")
    return "\n".join(lines) + "\n"


def render_micro(micro_result, placement, shares_the_core):
    lines = ["", f"## Micro: ns per call from Python, small values, {placement}", "",
             "| call | hornbeam shared memory | hornbeam Redis backend | redis-py | process-local dict "
             "| Redis backend ÷ redis-py |",
             "|---|---:|---:|---:|---:|---:|"]
    micro_times, micro_cpu = micro_result
    for op in ("get", "set", "incr"):
        ours, backend, theirs, local = (micro_times[b][op] for b in MICRO_BACKENDS)
        lines.append(f"| state_{op} | {ours:,.0f} | {backend:,.0f} | {theirs:,.0f} | {local:,.0f} "
                     f"| {backend / theirs:.2f} |")
    (backend_worker, backend_redis), (py_worker, py_redis) = micro_cpu["hornbeam redis"], micro_cpu["redis"]
    where = "on the worker's core, so it is in both clients' time per call" if shares_the_core else "on another core"
    return lines + ["", f"CPU µs per call (get, set and incr together) of the worker that calls and of redis-server "
                        f"({where}): Redis backend {backend_worker:.1f} + {backend_redis:.1f}, redis-py "
                        f"{py_worker:.1f} + {py_redis:.1f}; the worker's alone, backend ÷ redis-py: "
                        f"{backend_worker / py_worker:.2f}."]


if __name__ == "__main__":
    main()
