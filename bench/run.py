#!/usr/bin/python3
"""Side-by-side HTTP benchmark of hornbeam-worker against its peers, on this machine.

Every server runs pinned to CPU 0 and the load generator to CPU 1, on loopback. WSGI servers
run bench/apps/wsgi_app.py, ASGI servers bench/apps/asgi_app.py (the same routes, plus a
websocket echo driven by hornbeam-ws-load, bench/tools/ws_load.cpp). The load generator is wrk,
except for the large bodies (the 64 KiB response and the POST 1 MiB echo): there it is
hornbeam-body-load (bench/tools/body_load.cpp), since wrk reads responses 8 KiB at a time and
its core was full below what the servers could answer (`--body-client wrk` for wrk there
too). All servers are started
at once and take turns run by run in every (workload, connections) cell, so that the machine's
drift does not favour any of them; the table shows medians with the spread (min-max) and the
ratios of hornbeam's WSGI and ASGI paths to each server, in requests per second and in the
server's CPU time per request (user + system time of its process tree over the run, divided
by the requests served: what the load generator cannot distort), with the load generator's
own CPU use (near 100 %, its core is full and the cell's req/s is its limit). The header says
what a system call and a thread hand-over cost on the server's CPU at the end
(bench/tools/syscall_cost.cpp): on some VMs here a null system call took about 1 µs, ten
times a bare machine's, and the dearer they are, the closer every ratio gets to 1.

    bench/run.py [--runs 3] [--duration 5] [--servers hornbeam,uwsgi,...] [--workloads hello,...]
                 [--body-client body-load|wrk] [--out FILE]

Machines here are noisy: compare ratios from one run, never absolute numbers across runs."""

import argparse
import os
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "bench" / "apps"
WORKER = ROOT / "build" / "worker" / "hornbeam-worker"
WS_LOAD = ROOT / "build" / "bench" / "tools" / "hornbeam-ws-load"
BODY_LOAD = ROOT / "build" / "bench" / "tools" / "hornbeam-body-load"
SYSCALL_COST = ROOT / "build" / "bench" / "tools" / "hornbeam-syscall-cost"
SERVER_CPU, CLIENT_CPU = "0", "1"

WORKLOADS = {
    "hello": {"path": "/", "script": None},
    "64KiB": {"path": "/64k", "script": None, "body_bytes": 0},
    "POST 1MiB": {"path": "/echo", "script": ROOT / "bench" / "post_1mib.lua", "body_bytes": 1 << 20},
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nginx_command(port, tmp):
    static = Path(tmp) / "static"
    static.mkdir(exist_ok=True)
    (static / "64k").write_bytes(b"x" * 65536)
    # nginx's workers run as an unprivileged user: they must be able to read the file.
    os.chmod(tmp, 0o755)
    os.chmod(static, 0o755)
    os.chmod(static / "64k", 0o644)
    conf = Path(tmp) / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  # As Debian's own nginx.conf has it: the static file goes out with sendfile(2).
  sendfile on;
  tcp_nopush on;
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location = / {{ default_type text/plain; return 200 "Hello, World!"; }}
    location = /64k {{ root {static}; default_type application/octet-stream; }}
  }}
}}
""")
    return ["nginx", "-c", str(conf), "-p", tmp]


SERVERS = ("hornbeam", "hornbeam 5 mounts", "hornbeam hooks", "hornbeam io_spin_us=50", "gunicorn sync", "gunicorn gthread", "uwsgi", "hornbeam asgi", "uvicorn", "hypercorn", "nginx")
ASGI_SERVERS = {"hornbeam asgi", "uvicorn", "hypercorn"}
WEBSOCKET_CLIENTS = 50


# --previous PATH: a hornbeam-worker built from an earlier commit (git worktree), run as the
# rows "hornbeam previous" and "hornbeam asgi previous": a change's effect in one run.
PREVIOUS_WORKER = None


def server_command(name, port, tmp):
    """The command line of one server (nginx's also writes its config file)."""
    if name == "nginx":
        return nginx_command(port, tmp)
    if name.endswith(" previous"):
        command = server_command(name.removesuffix(" previous"), port, tmp)
        return [str(PREVIOUS_WORKER), *command[1:]]
    app = "wsgi_app:application"
    asgi_app = "asgi_app:app"

    def hornbeam(*options, contexts="1"):
        """hornbeam-worker serving the benchmark's apps, without access log: `options` before
        the app (which comes last)."""
        return [str(WORKER), "-b", f"127.0.0.1:{port}", "--pythonpath", str(APPS), "--contexts", contexts,
                "--logging-access-log", "", "--logging-level", "warning", *options]

    return {
        "hornbeam asgi": hornbeam("-k", "asgi", asgi_app),
        "uvicorn": ["/usr/bin/python3", "-m", "uvicorn", "--port", str(port), "--loop", "uvloop", "--http",
                    "httptools", "--no-access-log", "--log-level", "warning", asgi_app],
        "hypercorn": ["/usr/bin/python3", "-m", "hypercorn", "-b", f"127.0.0.1:{port}", "-k", "uvloop",
                      "--log-level", "warning", asgi_app],
        "hornbeam": hornbeam(app),
        # Four thread contexts on one interpreter: what sharing the GIL costs a CPU-bound app
        # (docs/worker.md, Contexts).
        "hornbeam 4 contexts": hornbeam("--context-mode", "thread", app, contexts="4"),
        # The same app at `/` behind four other mounts, which every request is routed past
        # (longest prefix first, so `/` is tried last): what routing costs (docs/mounts.md).
        "hornbeam 5 mounts": hornbeam(*[f"--mounts=/{name}={app}" for name in ("alpha", "bravo", "charlie", "delta")],
                                      app),
        # The same app with a no-op hooks.on_request and hooks.on_response (docs/hooks.md).
        "hornbeam hooks": hornbeam("--hooks-on-request", "noop_hooks:on_request",
                                   "--hooks-on-response", "noop_hooks:on_response", app),
        # The same with the I/O thread polling before it sleeps: for a worker that has its core
        # to itself, as here (docs/performance.md).
        "hornbeam io_spin_us=50": hornbeam("--io-spin-us", "50", app),
        "gunicorn sync": ["/usr/bin/python3", "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
                          "--chdir", str(APPS), "--log-level", "warning", app],
        "gunicorn gthread": ["/usr/bin/python3", "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "4",
                             "-b", f"127.0.0.1:{port}", "--chdir", str(APPS), "--log-level", "warning", app],
        "uwsgi": ["uwsgi", "--plugin", "python3", "--http11-socket", f"127.0.0.1:{port}", "--processes", "1",
                  "--master", "--chdir", str(APPS), "--wsgi", app, "--disable-logging", "--die-on-term",
                  "--post-buffering", "65536", "--buffer-size", "32768"],
    }[name]


def wait_for_port(port, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not open its port")


def process_tree(pid):
    """A process and all its descendants, as far as they still exist."""
    pending = [pid]
    while pending:
        current = pending.pop()
        yield current
        try:
            pending.extend(int(child) for child in
                           Path(f"/proc/{current}/task/{current}/children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            pass


def tree_rss_kib(pid):
    """RSS of a process and all its descendants."""
    total = 0
    for current in process_tree(pid):
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
        except (FileNotFoundError, AttributeError, ProcessLookupError):
            pass
    return total


TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid):
    """User + system CPU time of a process and all its descendants (every thread)."""
    total = 0
    for current in process_tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
        except (FileNotFoundError, IndexError, ProcessLookupError):
            pass
    return total / TICKS_PER_SECOND


def load_generator_run(command, server_pid, duration):
    """Runs the load generator to its end: its stdout, the share of its CPU it used (user +
    system time over the wall time) and the CPU seconds the server's process tree spent
    meanwhile. Near 100 %, the load generator bounds the cell: its requests per second say
    less than the servers' CPU per request."""
    server_before = tree_cpu_seconds(server_pid)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60).stdout
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = tree_cpu_seconds(server_pid) - server_before
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return output, 100 * used / max(wall, 1e-9), server_cpu


def to_ms(text):
    value = float(re.match(r"[\d.]+", text).group(0))
    if text.endswith("us"):
        return value / 1000
    if text.endswith("ms"):
        return value
    if text.endswith("s"):
        return value * 1000
    return value


def run_wrk(server, workload, connections, duration):
    """One wrk run against `server` (its process, its port), with the server's CPU time per
    request: what the server spent, whatever the load generator could or could not send."""
    process, port = server
    command = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency",
               f"http://127.0.0.1:{port}{workload['path']}"]
    if workload["script"]:
        command[6:6] = ["-s", str(workload["script"])]
    output, client_cpu, cpu = load_generator_run(command, process.pid, duration)
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    errors = re.search(r"Socket errors: (.*)", output)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": rps, "p50": p50, "p99": p99, "requests": requests, "cpu_us": cpu * 1e6 / max(requests, 1),
            "client_cpu": client_cpu,
            "errors": (errors.group(1) if errors else "") + (f" non-2xx {non2xx.group(1)}" if non2xx else "")}


def run_body_load(server, workload, connections, duration):
    """The same measures as run_wrk, driven by hornbeam-body-load (for large bodies)."""
    process, port = server
    command = ["taskset", "-c", CLIENT_CPU, str(BODY_LOAD), "127.0.0.1", str(port), workload["path"],
               str(connections), str(duration), str(workload["body_bytes"])]
    output, client_cpu, cpu = load_generator_run(command, process.pid, duration)
    requests, seconds, p50, p99, errors, non2xx = output.split()
    requests = int(requests)
    problems = (f"{errors} failed exchanges" if errors != "0" else "") + (f" non-2xx {non2xx}" if non2xx != "0" else "")
    return {"rps": requests / float(seconds), "p50": float(p50), "p99": float(p99), "requests": requests,
            "cpu_us": cpu * 1e6 / max(requests, 1), "client_cpu": client_cpu, "errors": problems}


def run_cell(server, workload, connections, duration, body_client):
    if "body_bytes" in workload and body_client == "body-load":
        return run_body_load(server, workload, connections, duration)
    return run_wrk(server, workload, connections, duration)


def start(name, command, tmp, port):
    process = subprocess.Popen(["taskset", "-c", SERVER_CPU, *command], stdout=subprocess.DEVNULL,
                               stderr=open(Path(tmp) / f"{name.replace(' ', '_')}.log", "w"), cwd=APPS)
    wait_for_port(port, process)
    return process


def stop(name, process):
    process.send_signal(signal.SIGINT if name.startswith("hornbeam") else signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def measure_all(running, args):
    """Every cell, the servers taking turns run by run: drift in the machine's speed (other
    load, frequency) spreads over all of them instead of biasing whoever runs at that time.
    Idle servers use no CPU while the others are measured."""
    results = {name: {} for name in running}
    for workload_name, workload in WORKLOADS.items():
        if workload_name not in args.workloads:
            continue
        for connections in (1, 50):
            names = [name for name in running if not (name == "nginx" and workload["script"])]
            for name in names:  # warm-up
                run_cell(running[name], workload, connections, 1, args.body_client)
            for _ in range(args.runs):
                for name in names:
                    run = run_cell(running[name], workload, connections, args.duration, args.body_client)
                    results[name].setdefault((workload_name, connections), []).append(run)
            print(f"  {workload_name} at {connections} connection(s) done", file=sys.stderr, flush=True)
    websocket_servers = [name for name in running if name.removesuffix(" previous") in ASGI_SERVERS and "ws echo" in args.workloads]
    for name in websocket_servers:  # warm-up
        run_ws_load(running[name], 1)
    for _ in range(args.runs):
        for name in websocket_servers:
            results[name].setdefault(("ws echo", WEBSOCKET_CLIENTS), []).append(
                run_ws_load(running[name], args.duration))
    if websocket_servers:
        print("  ws echo done", file=sys.stderr, flush=True)
    for name, (process, port) in running.items():
        results[name]["fairness"] = fairness(port)
        results[name]["rss_kib"] = tree_rss_kib(process.pid)
    return results


def run_ws_load(server, duration):
    """Messages/s over WEBSOCKET_CLIENTS connections, each sending 64 bytes and waiting for the
    echo before the next."""
    process, port = server
    command = ["taskset", "-c", CLIENT_CPU, str(WS_LOAD), "127.0.0.1", str(port), "/ws",
               str(WEBSOCKET_CLIENTS), str(duration), "64"]
    output, client_cpu, cpu = load_generator_run(command, process.pid, duration)
    rate, p50, p99, errors = output.split()
    return {"rps": float(rate), "p50": float(p50), "p99": float(p99),
            "cpu_us": cpu * 1e6 / max(float(rate) * duration, 1), "client_cpu": client_cpu,
            "errors": "" if errors == "0" else f"{errors} failed connections"}


def fairness(port, connections=50, seconds=2.0):
    """How many of `connections` keep-alive clients, each sending its next request as soon as
    the previous answer arrives, get any answer within `seconds`, and the fewest and most
    answers one of them got. wrk records latency only for completed requests: a server that
    serves one connection and starves the others shows an excellent p99. This shows it."""
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
    answers = {sock: 0 for sock in socks}
    pending = {sock: b"" for sock in socks}
    for sock in socks:
        sock.sendall(request)
    deadline = time.monotonic() + seconds
    open_socks = list(socks)
    while time.monotonic() < deadline and open_socks:
        ready, _, _ = select.select(open_socks, [], [], 0.05)
        for sock in ready:
            try:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionResetError
                pending[sock] += data
                while b"Hello, World!" in pending[sock]:
                    pending[sock] = pending[sock].split(b"Hello, World!", 1)[1]
                    answers[sock] += 1
                    sock.sendall(request)
            except OSError:  # closed or reset by the server: this client is done
                open_socks.remove(sock)
    for sock in socks:
        sock.close()
    counts = sorted(answers.values())
    return sum(1 for count in counts if count), counts[0], counts[-1]


def machine_costs():
    """What the kernel charges on the server's CPU now (bench/tools/syscall_cost.cpp): the
    ratios between servers shrink towards 1 as system calls and thread switches get dearer,
    so a table says what they cost when it was made."""
    if not SYSCALL_COST.exists():
        return f"(system call costs not measured: {SYSCALL_COST.name} is not built; bench/run builds it)"
    costs = subprocess.run([str(SYSCALL_COST), SERVER_CPU], capture_output=True, text=True, timeout=60)
    return f"machine, on CPU {SERVER_CPU} after the runs: {costs.stdout.strip() or costs.stderr.strip()}"


def median_and_spread(runs, key):
    values = [run[key] for run in runs]
    return statistics.median(values), min(values), max(values)


def table(all_results):
    lines = ["| workload | conns | server | req/s (median, min-max) | p50 ms | p99 ms | hornbeam WSGI ÷ server "
             "| hornbeam ASGI ÷ server | server CPU µs/req | CPU: WSGI ÷ server | CPU: ASGI ÷ server | load generator CPU "
             "| errors |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    cells = [(workload, connections) for workload in WORKLOADS for connections in (1, 50)]
    cells.append(("ws echo", WEBSOCKET_CLIENTS))
    for cell in cells:
        bases, cpu_bases = [], []
        for base_name in ("hornbeam", "hornbeam asgi"):
            base = all_results.get(base_name, {}).get(cell)
            bases.append(median_and_spread(base, "rps")[0] if base else None)
            cpu_bases.append(median_and_spread(base, "cpu_us")[0] if base else None)
        for name, results in all_results.items():
            runs = results.get(cell)
            if not runs:
                continue
            rps, low, high = median_and_spread(runs, "rps")
            p50 = median_and_spread(runs, "p50")[0]
            p99 = median_and_spread(runs, "p99")[0]
            ratios = " | ".join(f"{base / rps:.2f}×" if base else "—" for base in bases)
            cpu_us = median_and_spread(runs, "cpu_us")[0]
            # Below 1: hornbeam spends less CPU per request than this server.
            cpu_ratios = " | ".join(f"{base / cpu_us:.2f}×" if base and cpu_us else "—" for base in cpu_bases)
            # Near 100 %, the load generator's core is full: the req/s ratios of the cell are its
            # limit more than the servers' (the CPU ratios still hold).
            client_cpu = median_and_spread(runs, "client_cpu")[0]
            errors = "; ".join(sorted({run["errors"].strip() for run in runs if run["errors"].strip()})) or "0"
            lines.append(f"| {cell[0]} | {cell[1]} | {name} | {rps:,.0f} ({low:,.0f}-{high:,.0f}) | "
                         f"{p50:.2f} | {p99:.2f} | {ratios} | {cpu_us:,.1f} | {cpu_ratios} | {client_cpu:.0f} % "
                         f"| {errors} |")
    lines += ["", "| server | RSS after the runs (all processes) | of 50 keep-alive clients, answered within 2 s "
                  "(fewest-most answers per client) |", "|---|---|---|"]
    for name, results in all_results.items():
        served, fewest, most = results["fairness"]
        lines.append(f"| {name} | {results['rss_kib'] / 1024:.1f} MiB | {served}/50 ({fewest:,}-{most:,}) |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--workloads", default=",".join([*WORKLOADS, "ws echo"]),
                        help="a comma-separated subset of: " + ", ".join([*WORKLOADS, "ws echo"]))
    parser.add_argument("--body-client", choices=("body-load", "wrk"), default="body-load",
                        help="the load generator of the 64 KiB and POST 1 MiB cells")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.md")
    parser.add_argument("--previous", type=Path,
                        help="an earlier hornbeam-worker: adds `hornbeam previous` and `hornbeam asgi "
                             "previous` to --servers")
    args = parser.parse_args()
    if args.previous:
        global PREVIOUS_WORKER
        PREVIOUS_WORKER = args.previous.resolve()
        args.servers += ",hornbeam previous,hornbeam asgi previous"
    args.workloads = args.workloads.split(",")
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: run bench/setup first")
    body_cells = any("body_bytes" in WORKLOADS.get(name, {}) for name in args.workloads)
    if body_cells and args.body_client == "body-load" and not BODY_LOAD.exists():
        sys.exit(f"{BODY_LOAD} is missing: cmake --build build --target hornbeam-body-load (bench/run does)")
    with tempfile.TemporaryDirectory(prefix="hornbeam-bench-") as tmp:
        running = {}
        try:
            for name in args.servers.split(","):
                port = free_port()
                print(f"starting {name} on port {port}", file=sys.stderr, flush=True)
                running[name] = (start(name, server_command(name, port, tmp), tmp, port), port)
            all_results = measure_all(running, args)
        finally:
            for name, (process, _) in running.items():
                stop(name, process)
    report = (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
              f"{args.runs} runs × {args.duration} s per cell, servers interleaved, server on CPU {SERVER_CPU}, "
              f"load generator on CPU {CLIENT_CPU} (64 KiB and POST cells: {args.body_client})\n"
              f"{machine_costs()}\n\n" + table(all_results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
