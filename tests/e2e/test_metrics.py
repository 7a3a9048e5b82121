"""The arbiter's metrics listener (metrics_bind): Prometheus text that promtool accepts and a
real Prometheus scrapes, counters that survive workers, /healthz and /readyz, and
shutdown_delay."""

import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import Load, cpu_seconds, out_of_descriptors_under_sanitizers
from peers import Prometheus


def metrics_url(arbiter):
    arbiter.wait_for_log(r"metrics on 127\.0\.0\.1:\d+")
    return "http://" + re.search(r"metrics on (127\.0\.0\.1:\d+)", arbiter.log).group(1)


def sample(text, name, labels=""):
    match = re.search(rf"^{re.escape(name + ('{' + labels + '}' if labels else ''))} (\S+)$", text, re.M)
    assert match, f"no {name}{{{labels}}} in:\n{text}"
    return float(match.group(1))


def metrics_when(url, ready, timeout=10):
    """The /metrics text once `ready(text)` holds: workers count a response a moment after the
    client may have read it, and publish their gauges at each tick."""
    deadline = time.monotonic() + timeout
    while True:
        text = requests.get(url + "/metrics").text
        if ready(text) or time.monotonic() > deadline:
            return text
        time.sleep(0.02)


def start_with_metrics(start_arbiter, app="echo:status_from_path", workers=2, env=None, **settings):
    return start_arbiter(app, workers=workers, env=env, settings={"metrics_bind": "127.0.0.1:0", **settings})


def test_metrics_count_requests_and_pass_promtool(start_arbiter, tmp_path):
    arbiter = start_with_metrics(start_arbiter)
    url = metrics_url(arbiter)
    for path in ["/200"] * 10 + ["/404", "/503"]:
        requests.get(arbiter.url + path)
    with socket.create_connection(("127.0.0.1", arbiter.port)) as raw:  # refused by the server
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400")
    text = metrics_when(url, lambda text: sample(text, "hornbeam_request_duration_seconds_count") >= 13)
    assert sample(text, "hornbeam_requests_total", 'status_class="2xx",worker_class="wsgi"') == 10
    assert sample(text, "hornbeam_requests_total", 'status_class="4xx",worker_class="wsgi"') == 2
    assert sample(text, "hornbeam_requests_total", 'status_class="5xx",worker_class="wsgi"') == 1
    assert sample(text, "hornbeam_request_duration_seconds_count") == 13
    assert sample(text, "hornbeam_request_duration_seconds_bucket", 'le="+Inf"') == 13
    assert sample(text, "hornbeam_workers", 'state="ready"') == 2
    assert sample(text, "hornbeam_contexts", 'state="idle"') == 2
    assert sample(text, "hornbeam_worker_spawns_total") == 2
    assert sample(text, "hornbeam_connections_accepted_total") == 13
    assert 'hornbeam_build_info{version="0.1.0",python="' in text
    assert len(re.findall(r"^hornbeam_worker_rss_bytes\{slot=\"\d+\"\} [1-9]\d+$", text, re.M)) == 2
    (tmp_path / "metrics.txt").write_text(text)
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert requests.head(url + "/metrics").text == ""


def test_requests_count_under_the_kind_of_app_that_answered(start_arbiter):
    arbiter = start_arbiter(None, workers=1, settings={
        "metrics_bind": "127.0.0.1:0",
        "mounts": [{"prefix": "/api", "app": "owngil_app:asgi_app", "worker_class": "asgi"},
                   {"prefix": "/", "app": "echo:status_from_path"}]})
    url = metrics_url(arbiter)
    for path in ["/api/a", "/api/b", "/api", "/201", "/404"]:
        requests.get(arbiter.url + path)
    # The last response is counted a moment after the client has it (one CI run scraped first).
    text = metrics_when(url, lambda text: sample(text, "hornbeam_request_duration_seconds_count") >= 5)
    assert sample(text, "hornbeam_requests_total", 'status_class="2xx",worker_class="asgi"') == 3
    assert sample(text, "hornbeam_requests_total", 'status_class="2xx",worker_class="wsgi"') == 1
    assert sample(text, "hornbeam_requests_total", 'status_class="4xx",worker_class="wsgi"') == 1


def test_gil_wait_grows_when_thread_contexts_compete(start_arbiter, tmp_path):
    (tmp_path / "busy.py").write_text(
        "import time\n"
        "def app(environ, start_response):\n"
        "    end = time.perf_counter() + 0.05\n"
        "    while time.perf_counter() < end:\n"
        "        pass\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'done']\n")
    # Thread contexts share one GIL (own-GIL ones would not wait at all); the environment, which
    # the owngil runs of this suite set, would win over the file.
    arbiter = start_with_metrics(start_arbiter, app="busy:app", workers=1, contexts=4,
                                 env={"HORNBEAM_CONTEXT_MODE": "thread"}, pythonpath=[str(tmp_path)])
    url = metrics_url(arbiter)
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda _: requests.get(arbiter.url).text, range(24))) == {"done"}
    # Each of 24 requests waited for a running one to give the GIL up (its switch interval).
    gil_wait = lambda text: sample(text, "hornbeam_gil_wait_seconds_total")  # noqa: E731
    assert gil_wait(metrics_when(url, lambda text: gil_wait(text) > 0.005)) > 0.005


def test_counters_survive_a_crash_and_a_reload(start_arbiter):
    arbiter = start_with_metrics(start_arbiter)
    url = metrics_url(arbiter)
    for _ in range(20):
        requests.get(arbiter.url + "/200")
    # A worker counts a response once its last bytes are written, a moment after the client
    # may have read them: wait for the 20 before killing one.
    twenty = 'status_class="2xx",worker_class="wsgi"'
    assert sample(metrics_when(url, lambda text: sample(text, "hornbeam_requests_total", twenty) >= 20),
                  "hornbeam_requests_total", twenty) == 20
    victim = arbiter.workers()[0]
    subprocess.run(["kill", "-KILL", str(victim)], check=True)
    arbiter.wait_for_log(rf"pid {victim}, generation 1\) was killed by SIGKILL")
    arbiter.wait_for_workers(2)
    text = requests.get(url + "/metrics").text
    assert sample(text, "hornbeam_requests_total", 'status_class="2xx",worker_class="wsgi"') == 20  # folded, not lost
    assert sample(text, "hornbeam_worker_exits_total", 'cause="crash"') == 1
    arbiter.send(signal.SIGHUP)
    arbiter.wait_for_log(r"generation 2: 2 worker\(s\) ready")
    arbiter.wait_for_log(r"generation 1\) exited", count=2)
    text = requests.get(url + "/metrics").text
    assert sample(text, "hornbeam_requests_total", 'status_class="2xx",worker_class="wsgi"') == 20
    assert sample(text, "hornbeam_generation") == 2
    assert sample(text, "hornbeam_reloads_total", 'outcome="ok"') == 1
    assert sample(text, "hornbeam_worker_exits_total", 'cause="reload"') == 2
    assert sample(text, "hornbeam_worker_spawns_total") == 5


def test_health_and_readiness(start_arbiter):
    arbiter = start_with_metrics(start_arbiter)
    url = metrics_url(arbiter)
    assert (requests.get(url + "/healthz").status_code, requests.get(url + "/healthz").text) == (200, "ok\n")
    ready = requests.get(url + "/readyz")
    assert (ready.status_code, ready.text) == (200, "2 worker(s) ready\n")
    head = requests.head(url + "/readyz")
    assert head.status_code == 200 and head.headers["Content-Length"] == "18" and head.text == ""
    assert requests.get(url + "/elsewhere").status_code == 404
    assert requests.post(url + "/readyz").status_code == 405
    arbiter.send(signal.SIGTERM)
    arbiter.process.wait(30)


def test_shutdown_delay_fails_readiness_at_once_and_keeps_serving(start_arbiter):
    arbiter = start_with_metrics(start_arbiter, app="echo:hello", shutdown_delay="2s")
    url = metrics_url(arbiter)
    load = Load(arbiter.url, clients=4)
    try:
        load.wait_for(50)
        sent = time.monotonic()
        arbiter.send(signal.SIGTERM)
        while requests.get(url + "/readyz").status_code == 200:
            assert time.monotonic() - sent < 1, "readiness did not turn"
        flipped = time.monotonic() - sent
        served_before = load.total
        time.sleep(1.5)  # within the delay: still served
        assert load.total > served_before + 50
    finally:
        load.stop()
    assert flipped < 0.1, f"readiness turned after {flipped:.3f}s"
    assert load.errors == [] and set(load.statuses) == {200}
    assert requests.get(url + "/readyz").text == "stopping (SIGTERM)\n"
    assert arbiter.process.wait(30) == 0
    assert "serving 2.0s more (shutdown_delay), then a graceful stop" in arbiter.log


def test_a_real_prometheus_scrapes_the_request_count(start_arbiter, tmp_path):
    if not Path("/usr/bin/prometheus").exists():
        pytest.skip("Debian's prometheus package is not installed (scripts/ensure-packages installs it)")
    arbiter = start_with_metrics(start_arbiter)
    target = metrics_url(arbiter).removeprefix("http://")
    for _ in range(7):
        requests.get(arbiter.url + "/200")
    prometheus = Prometheus(tmp_path, target)
    try:
        assert prometheus.query('sum(hornbeam_requests_total{status_class="2xx"})') == 7
        assert prometheus.query('up{job="hornbeam"}') == 1
    finally:
        prometheus.stop()


@out_of_descriptors_under_sanitizers
def test_out_of_descriptors_the_metrics_listener_waits_instead_of_spinning(start_arbiter):
    arbiter = start_with_metrics(start_arbiter, workers=1)
    url = metrics_url(arbiter)
    port = int(url.rsplit(":", 1)[1])
    pid = arbiter.process.pid
    in_use = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={in_use + 4}:{in_use + 4}"], check=True)
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    arbiter.wait_for_log("accept failed: Too many open files")
    used = cpu_seconds(pid)
    time.sleep(2)
    assert cpu_seconds(pid) - used < 0.5, "the metrics thread spun on accept"
    assert arbiter.count("accept failed") == 1, arbiter.log[-2000:]
    for sock in idle:
        sock.close()
    assert requests.get(url + "/metrics", timeout=10).status_code == 200
    arbiter.wait_for_log("accepting metrics connections again")
