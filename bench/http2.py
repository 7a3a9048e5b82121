#!/usr/bin/python3
"""HTTP/2 side by side: hello world with h2load over h2c (prior knowledge) and over TLS (ALPN
h2), one worker, against Hypercorn (the Python peer here that serves h2) and against
hornbeam's own HTTP/1.1 (h2load --h1); then memory per idle h2 connection. Server on CPU 0,
h2load on CPU 1, servers taking turns run by run, as bench/run.py.

    bench/http2.py [--runs 3] [--duration 5] [--connections 50] [--streams 10] [--idle 500]

Reports req/s, the ratio to hornbeam's HTTP/1.1 over the same transport, and server CPU time
per request (user + system of the server's process tree over the run, divided by requests)."""

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import APPS, CLIENT_CPU, WORKER, free_port, start, stop  # noqa: E402
from tls import cpu_seconds, idle_connection_cost, make_certificate  # noqa: E402

# The client preface and an empty SETTINGS frame: the server answers with its SETTINGS.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def servers(port, cert, key):
    hornbeam = [str(WORKER), "--pythonpath", str(APPS), "--contexts", "1", "--logging-access-log", "",
                "--logging-level", "warning"]
    tls = ["--tls-certfile", str(cert), "--tls-keyfile", str(key)]
    hypercorn = ["/usr/bin/python3", "-m", "hypercorn", "-b", f"127.0.0.1:{port}", "-k", "uvloop",
                 "--log-level", "warning"]
    hypercorn_tls = ["--certfile", str(cert), "--keyfile", str(key)]
    # (command, scheme, h2load's protocol)
    return {
        "hornbeam wsgi http1.1": ([*hornbeam, "-b", f"127.0.0.1:{port}", "wsgi_app:application"],
                                   "http", "h1"),
        "hornbeam wsgi h2c": ([*hornbeam, "-b", f"127.0.0.1:{port}", "wsgi_app:application"], "http", "h2"),
        "hornbeam asgi h2c": ([*hornbeam, "-k", "asgi", "-b", f"127.0.0.1:{port}", "asgi_app:app"],
                              "http", "h2"),
        "hypercorn h2c": ([*hypercorn, "asgi_app:app"], "http", "h2"),
        "hornbeam wsgi https1.1": ([*hornbeam, *tls, "-b", f"https://127.0.0.1:{port}",
                                     "wsgi_app:application"], "https", "h1"),
        "hornbeam wsgi h2": ([*hornbeam, *tls, "-b", f"https://127.0.0.1:{port}", "wsgi_app:application"],
                             "https", "h2"),
        "hornbeam asgi h2": ([*hornbeam, *tls, "-k", "asgi", "-b", f"https://127.0.0.1:{port}",
                              "asgi_app:app"], "https", "h2"),
        "hypercorn h2": ([*hypercorn, *hypercorn_tls, "asgi_app:app"], "https", "h2"),
    }


def h2load(scheme, protocol, port, duration, connections, streams):
    command = ["taskset", "-c", CLIENT_CPU, "h2load", "-t1", f"-c{connections}", f"-D{duration}",
               f"-m{streams if protocol == 'h2' else 1}", f"{scheme}://127.0.0.1:{port}/"]
    if protocol == "h1":
        command.insert(4, "--h1")
    run = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", run.stdout)
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", run.stdout)
    if not done or not rate or int(done.group(2)) == 0:
        raise RuntimeError(f"h2load against port {port} failed: {run.stdout} {run.stderr}")
    return float(rate.group(1)), int(done.group(2))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--streams", type=int, default=10, help="concurrent streams per h2 connection")
    parser.add_argument("--idle", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = make_certificate(tmp)
        running = {}
        for name in servers(0, cert, key):
            port = free_port()
            command, scheme, protocol = servers(port, cert, key)[name]
            running[name] = (start(name, command, tmp, port), port, scheme, protocol)
        results = {name: [] for name in running}
        idle = {}
        try:
            for name, (process, port, scheme, protocol) in running.items():  # warm-up
                h2load(scheme, protocol, port, 1, args.connections, args.streams)
            for _ in range(args.runs):
                for name, (process, port, scheme, protocol) in running.items():
                    cpu_before = cpu_seconds(process.pid)
                    rps, requests = h2load(scheme, protocol, port, args.duration, args.connections,
                                           args.streams)
                    cpu = cpu_seconds(process.pid) - cpu_before
                    results[name].append((rps, 1e6 * cpu / max(requests, 1)))
            for name in ("hornbeam wsgi h2c", "hornbeam wsgi h2", "hypercorn h2c"):
                process, port, scheme, _ = running[name]
                idle[name] = idle_connection_cost(scheme, port, process.pid, args.idle, alpn=["h2"],
                                                  greeting=PREFACE)
        finally:
            for name, (process, *_) in running.items():
                stop(name, process)
    base = {"http": statistics.median(r for r, _ in results["hornbeam wsgi http1.1"]),
            "https": statistics.median(r for r, _ in results["hornbeam wsgi https1.1"])}
    print(f"\nhello world, h2load -c{args.connections} -m{args.streams} (HTTP/1.1: -m1), "
          f"{args.runs} runs of {args.duration}s (medians)\n")
    print("| server | req/s | × hornbeam HTTP/1.1 (same transport) | µs CPU/req | KiB per idle connection |")
    print("|---|---:|---:|---:|---:|")
    for name, cells in results.items():
        scheme = running[name][2]
        rate = statistics.median(r for r, _ in cells)
        print(f"| {name} | {rate:,.0f} | {rate / base[scheme]:.2f} | "
              f"{statistics.median(c for _, c in cells):.1f} | "
              f"{'' if name not in idle else f'{idle[name]:.1f}'} |")


if __name__ == "__main__":
    main()
