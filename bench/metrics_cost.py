#!/usr/bin/python3
"""What the arbiter's metrics cost: hello world through one worker under the arbiter, with
`metrics_bind` off and on (scraped every second, harsher than Prometheus' 15 s default),
taking turns run by run. Server on CPU 0, wrk on CPU 1, as bench/run.py.

    bench/metrics_cost.py [--runs 7] [--duration 5] [--connections 50]

The workers count responses in their slot whether metrics_bind is set or not; what this
measures is the listener and its scrapes on top."""

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import CLIENT_CPU, SERVER_CPU, free_port, wait_for_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ARBITER = ROOT / "build" / "arbiter" / "hornbeam-arbiter"


def start(tmp, metrics):
    port = free_port()
    metrics_port = free_port() if metrics else None
    config = Path(tmp) / f"metrics-{metrics}.yaml"
    config.write_text(f"app: 'wsgi_app:application'\npythonpath: ['{ROOT / 'bench' / 'apps'}']\n"
                      f"bind: ['127.0.0.1:{port}']\nworkers: 1\nlogging: {{access_log: ''}}\n"
                      + (f"metrics_bind: '127.0.0.1:{metrics_port}'\n" if metrics else ""))
    process = subprocess.Popen(["taskset", "-c", SERVER_CPU, ARBITER, "-c", config],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process)
    time.sleep(1)
    return process, port, metrics_port


def scrape_every_second(port, stop):
    import urllib.request
    while not stop.wait(1):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read()


def wrk(port, duration, connections):
    output = subprocess.run(["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{connections}", f"-d{duration}s",
                             f"http://127.0.0.1:{port}/"], capture_output=True, text=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        servers = {"metrics off": start(tmp, False), "metrics on, scraped every 1 s": start(tmp, True)}
        stop = threading.Event()
        scraper = threading.Thread(target=scrape_every_second, args=(servers["metrics on, scraped every 1 s"][2], stop))
        scraper.start()
        rates = {name: [] for name in servers}
        try:
            for name, (_, port, _) in servers.items():
                wrk(port, 1, args.connections)  # warm-up
            for _ in range(args.runs):
                for name, (_, port, _) in servers.items():
                    rates[name].append(wrk(port, args.duration, args.connections))
        finally:
            stop.set()
            scraper.join()
            for process, _, _ in servers.values():
                process.terminate()
                process.wait(30)
    base = statistics.median(rates["metrics off"])
    print(f"hello world, 1 worker under the arbiter, wrk -c{args.connections}, {args.runs} x {args.duration} s\n")
    print("| | req/s median (min-max) | ratio |\n|---|---|---|")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"| {name} | {median:,.0f} ({min(values):,.0f}-{max(values):,.0f}) | {median / base:.3f} |")


if __name__ == "__main__":
    main()
