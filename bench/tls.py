#!/usr/bin/python3
"""TLS side by side: hello world over HTTPS with keep-alive, and with a new TLS connection per
request (the handshake rate), against hornbeam's own plain HTTP and the peers that terminate
TLS themselves; then memory per idle TLS connection. Server on CPU 0, wrk on CPU 1, servers
taking turns run by run, as bench/run.py.

    bench/tls.py [--runs 3] [--duration 5] [--idle 1000]

Reports req/s, the ratio to hornbeam's plain HTTP serving the same kind of app (WSGI or
ASGI), and server CPU time per request (user + system of the server's process tree over the
run, divided by requests: what the load generator cannot distort). The certificate is a P-256 one from a throwaway CA, as most sites
now serve."""

import argparse
import re
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import APPS, CLIENT_CPU, SERVER_CPU, WORKER, free_port, process_tree, start, stop, tree_rss_kib  # noqa: E402

TICKS = __import__("os").sysconf("SC_CLK_TCK")


def make_certificate(directory):
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bench CA")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (Path(directory) / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
    return Path(directory) / "server.pem", Path(directory) / "server.key"


def servers(port, cert, key):
    hornbeam = [str(WORKER), "--pythonpath", str(APPS), "--contexts", "1", "--logging-access-log", "",
                "--logging-level", "warning"]
    tls = ["--tls-certfile", str(cert), "--tls-keyfile", str(key)]
    return {
        "hornbeam http": ([*hornbeam, "-b", f"127.0.0.1:{port}", "wsgi_app:application"], "http"),
        "hornbeam https": ([*hornbeam, *tls, "-b", f"https://127.0.0.1:{port}", "wsgi_app:application"],
                           "https"),
        "hornbeam asgi http": ([*hornbeam, "-k", "asgi", "-b", f"127.0.0.1:{port}", "asgi_app:app"], "http"),
        "hornbeam asgi https": ([*hornbeam, *tls, "-k", "asgi", "-b", f"https://127.0.0.1:{port}",
                                 "asgi_app:app"], "https"),
        "gunicorn gthread https": (["/usr/bin/python3", "-m", "gunicorn", "-w", "1", "-k", "gthread",
                                    "--threads", "4", "-b", f"127.0.0.1:{port}", "--certfile", str(cert),
                                    "--keyfile", str(key), "--log-level", "warning",
                                    "wsgi_app:application"], "https"),
        "uvicorn https": (["/usr/bin/python3", "-m", "uvicorn", "--port", str(port), "--loop", "uvloop",
                           "--http", "httptools", "--no-access-log", "--log-level", "warning",
                           "--ssl-certfile", str(cert), "--ssl-keyfile", str(key), "asgi_app:app"], "https"),
        "hypercorn https": (["/usr/bin/python3", "-m", "hypercorn", "-b", f"127.0.0.1:{port}", "-k", "uvloop",
                             "--certfile", str(cert), "--keyfile", str(key), "--log-level", "warning",
                             "asgi_app:app"], "https"),
    }


def cpu_seconds(pid):
    total = 0
    for current in process_tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return total / TICKS


def wrk(scheme, port, duration, connections, close):
    command = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{connections}", f"-d{duration}s",
               f"{scheme}://127.0.0.1:{port}/"]
    if close:
        command[5:5] = ["-H", "Connection: close"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    found = re.search(r"(\d+) requests in", run.stdout)
    if not found:
        raise RuntimeError(f"wrk against port {port} failed: {run.stdout} {run.stderr}")
    requests = int(found.group(1))
    output = run.stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)), requests


def idle_connection_cost(scheme, port, pid, count, alpn=None, greeting=None):
    """KiB of server RSS per idle connection, handshake done (TLS) or not (plain). `greeting`:
    bytes each connection sends first, and waits for an answer to (HTTP/2's preface)."""
    before = tree_rss_kib(pid)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    if alpn:
        context.set_alpn_protocols(alpn)
    connections = []
    for _ in range(count):
        raw = socket.create_connection(("127.0.0.1", port))
        sock = context.wrap_socket(raw, server_hostname="localhost") if scheme == "https" else raw
        if greeting:
            sock.sendall(greeting)
            sock.recv(1024)
        connections.append(sock)
    time.sleep(1)
    after = tree_rss_kib(pid)
    for connection in connections:
        connection.close()
    return (after - before) / count


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--idle", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = make_certificate(tmp)
        running = {}
        for name in servers(0, cert, key):
            port = free_port()
            command, scheme = servers(port, cert, key)[name]
            running[name] = (start(name, command, tmp, port), port, scheme)
        results = {name: {} for name in running}
        try:
            for close in (False, True):
                mode = "new connection per request" if close else "keep-alive"
                for name, (process, port, scheme) in running.items():  # warm-up
                    try:
                        wrk(scheme, port, 1, args.connections, close)
                    except RuntimeError as error:
                        print(f"  {name}: {error}", file=sys.stderr)
                for _ in range(args.runs):
                    for name, (process, port, scheme) in running.items():
                        if process.poll() is not None:
                            print(f"  {name} exited ({process.returncode}): see its log", file=sys.stderr)
                            continue
                        cpu_before = cpu_seconds(process.pid)
                        rps, requests = wrk(scheme, port, args.duration, args.connections, close)
                        cpu = cpu_seconds(process.pid) - cpu_before
                        results[name].setdefault(mode, []).append((rps, 1e6 * cpu / max(requests, 1)))
                print(f"  {mode} done", file=sys.stderr, flush=True)
            for name in ("hornbeam http", "hornbeam https", "uvicorn https"):
                process, port, scheme = running[name]
                results[name]["idle KiB"] = idle_connection_cost(scheme, port, process.pid, args.idle)
        finally:
            for name, (process, _, _) in running.items():
                stop(name, process)
    # Each row against hornbeam's plain HTTP serving the same kind of app: the WSGI app for
    # hornbeam's WSGI rows and Gunicorn, the ASGI app for the other rows.
    base = {plain: statistics.median(r for r, _ in results[plain]["keep-alive"])
            for plain in ("hornbeam http", "hornbeam asgi http")}
    print(f"\nhello world, c={args.connections}, {args.runs} runs of {args.duration}s (medians)\n")
    print("| server | keep-alive req/s | × hornbeam http (same app kind) | µs CPU/req | new TLS connection per request req/s "
          "| µs CPU/req | KiB per idle connection |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, cells in results.items():
        keep = cells.get("keep-alive") or [(0, 0)]
        fresh = cells.get("new connection per request") or [(0, 0)]
        idle = cells.get("idle KiB")
        asgi = "asgi" in name or name.startswith(("uvicorn", "hypercorn"))
        plain = base["hornbeam asgi http" if asgi else "hornbeam http"]
        print(f"| {name} | {statistics.median(r for r, _ in keep):,.0f} | "
              f"{statistics.median(r for r, _ in keep) / plain:.2f} | "
              f"{statistics.median(c for _, c in keep):.1f} | "
              f"{statistics.median(r for r, _ in fresh):,.0f} | {statistics.median(c for _, c in fresh):.0f} | "
              f"{'' if idle is None else f'{idle:.1f}'} |")


if __name__ == "__main__":
    main()
