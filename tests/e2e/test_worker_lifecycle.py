"""Starting and stopping hornbeam-worker."""

import json
import os
import signal
import threading
import time

import pytest
import requests

from conftest import APPS, EMBEDDED_PYTHON, WORKER_PYTHON


def test_import_error_exits_4_with_the_traceback(start_worker):
    worker = start_worker("broken_import:application", expect_ready=False)
    assert worker.exit_status(30) == 4
    worker.stop()
    assert "Traceback (most recent call last)" in worker.log
    assert "No module named 'module_that_does_not_exist_hornbeam'" in worker.log


def test_missing_callable_names_the_part_not_found(start_worker):
    worker = start_worker("echo:no_such_app", expect_ready=False)
    assert worker.exit_status(30) == 4
    worker.stop()
    assert "`echo` has no attribute `no_such_app`" in worker.log


def test_sigterm_lets_the_request_in_flight_finish(start_worker, tmp_path):
    worker = start_worker("echo:marks_then_sleeps")
    marker = tmp_path / "running"
    result = {}

    def slow_request():
        result["response"] = requests.get(f"{worker.url}/?{marker}&1.5")

    thread = threading.Thread(target=slow_request)
    thread.start()
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # until the app is running the request
    assert marker.exists()
    assert worker.stop(signal.SIGTERM) == 0
    thread.join(10)
    assert result["response"].status_code == 200
    assert result["response"].text == "slept"


def test_sigterm_serves_a_request_whose_connection_is_already_open(start_worker):
    worker = start_worker("echo:hello")
    with worker.connect() as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # the head is on its way...
        worker.process.send_signal(signal.SIGTERM)
        worker.wait_for_log("SIGTERM")
        connection.sendall(b"\r\n")  # ...and completes after the signal
        status, headers, body = connection.read_response()
    assert (status, body) == (200, b"Hello, World!")
    assert dict(headers)["connection"] == "close"
    assert worker.exit_status(10) == 0


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_repeated_sigterm_while_stopping_still_exits_0(start_worker, kind):
    # An init system or an impatient operator may signal again while the worker winds down;
    # the stop stays graceful however the signals fall on the shutdown's steps.
    app = "echo:hello" if kind == "wsgi" else "asgi_app:app"
    for _ in range(5):
        worker = start_worker(app, "-k", kind, "--contexts", "2")
        worker.process.send_signal(signal.SIGTERM)
        while worker.process.poll() is None:
            try:
                worker.process.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                break
            time.sleep(0.0005)
        assert worker.stop() == 0


def test_the_exit_names_the_apps_threads_it_waits_for(start_worker):
    # Python joins the app's non-daemon threads before the worker can exit: a stop that
    # takes long (or for ever, until the arbiter's SIGKILL) says why.
    worker = start_worker("lingering_thread:app")
    worker.process.send_signal(signal.SIGTERM)
    worker.wait_for_log("waiting for 1 thread(s) of the app that are not daemon threads")
    assert "(Python joins them): flusher" in worker.log
    assert worker.process.wait(30) == 0


def test_an_app_that_installs_its_own_sigterm_handler_boots_and_cleans_up_at_exit(start_worker, tmp_path):
    # CPython refuses signal.signal outside the main thread, and the app is imported on a
    # context's: the worker failed to boot. Its handler must not replace the worker's either.
    marker = tmp_path / "marker"
    worker = start_worker("signal_handlers:app", "--contexts", "2", env={"HB_TEST_MARKER": str(marker)})
    answer = requests.get(worker.url, timeout=10).text
    assert answer.startswith("previous=<Handlers.SIG_DFL: 0>"), answer
    assert "usr2=signal only works in main thread" in answer  # not a signal of the worker's
    worker.wait_for_log("the app's handler for SIGTERM (signal.signal) is not installed: hornbeam "
                        "handles SIGTERM itself (a graceful stop); code to run when the worker stops "
                        "belongs in an atexit function")
    assert worker.log.count("handler for SIGTERM") == 1, "once, whatever the number of contexts"
    assert worker.stop() == 0  # a graceful stop, as the worker's own handler does it
    # Once per interpreter that imported the app (each context's own under owngil).
    ran = marker.read_text().splitlines()
    assert ran and set(ran) == {"atexit"}, ran


def test_the_apps_child_processes_take_sigterm(start_worker):
    worker = start_worker("echo:terminates_a_child", "--contexts", "2")
    assert requests.get(worker.url, timeout=30).text == "-15"


def test_sigint_stops_at_once(start_worker):
    worker = start_worker("echo:hello")
    assert requests.get(worker.url).status_code == 200
    assert worker.stop(signal.SIGINT) == 0


def test_the_arbiters_signals_leave_a_worker_serving(start_worker):
    """`pkill -HUP hornbeam` reaches workers too: their default action (die, or stop) would cut
    every request in flight. A worker ignores them, as nginx's do, and says so."""
    worker = start_worker("echo:hello")
    for sig in (signal.SIGHUP, signal.SIGUSR2, signal.SIGTTIN, signal.SIGTTOU):
        worker.process.send_signal(sig)
        worker.wait_for_log(f"{sig.name}: ignored (a worker takes no action on the arbiter's signals)")
        assert requests.get(worker.url, timeout=5).status_code == 200
    assert worker.process.poll() is None
    assert worker.stop() == 0


def test_a_worker_alone_names_the_arbiters_settings_it_cannot_act_on(start_worker, tmp_path):
    """A production config run with hornbeam-worker for a try: `user` would not be dropped to,
    no pidfile written, no second worker started. It says so rather than ignoring them."""
    pidfile = tmp_path / "hornbeam.pid"
    config = tmp_path / "hornbeam.yaml"
    config.write_text(json.dumps({"app": "echo:hello", "pythonpath": [str(APPS)], "workers": 7,
                                  "user": "nobody", "pidfile": str(pidfile), "max_requests": 100}))
    worker = start_worker(None, config=config)
    worker.wait_for_log("`workers`, `user`, `pidfile` set, but these are the arbiter's: a worker "
                        "run alone (hornbeam-worker) does not act on them")
    assert "`max_requests`" not in worker.log  # a worker alone recycles itself: it acts on that
    assert requests.get(worker.url).status_code == 200
    assert not pidfile.exists()


def test_venv_site_packages_become_importable(start_worker, tmp_path):
    import subprocess
    import sys
    venv = tmp_path / "venv"
    subprocess.run([EMBEDDED_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    version = "python" + ".".join(WORKER_PYTHON.split(".")[:2])
    site = venv / "lib" / version / "site-packages"
    (site / "only_in_the_venv.py").write_text("GREETING = b'from the venv'\n")
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "venv_app.py").write_text(
        "import only_in_the_venv\n"
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [only_in_the_venv.GREETING]\n")
    worker = start_worker("venv_app:application", "--venv", str(venv), "--pythonpath", str(app_dir))
    assert requests.get(worker.url).content == b"from the venv"


def test_chdir_is_the_apps_working_directory(start_worker, tmp_path):
    (tmp_path / "cwd_app.py").write_text(
        "import os\n"
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [os.getcwd().encode()]\n")
    worker = start_worker("cwd_app:application", "--chdir", str(tmp_path), "--pythonpath", str(tmp_path))
    assert requests.get(worker.url).text == str(tmp_path)


def test_sys_executable_is_the_embedded_python(start_worker, tmp_path):
    (tmp_path / "exe_app.py").write_text(
        "import sys\n"
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [sys.executable.encode()]\n")
    worker = start_worker("exe_app:application", "--pythonpath", str(tmp_path))
    # Debian's, not whatever `python3` PATH finds (a pyenv shim here), unless built for another
    assert os.path.realpath(requests.get(worker.url).text) == os.path.realpath(EMBEDDED_PYTHON)


def test_sigterm_after_graceful_timeout_closes_open_iterables(start_worker, tmp_path):
    worker = start_worker("echo:endless_until_closed", "--graceful-timeout", "1")
    marker = tmp_path / "closed"
    with worker.connect() as connection:
        connection.sendall(f"GET /?{marker} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert connection.recv(65536)  # the endless response has started
        assert worker.stop(signal.SIGTERM) == 0  # gives up on it after graceful_timeout
    assert marker.read_text() == "closed"


def test_a_worker_that_polls_before_sleeping_serves_and_stops(start_worker):
    # io_spin_us changes the I/O thread's loop: it must still serve every kind of exchange
    # (kept-alive, new connections, bodies answered by the context's own send and, above
    # 128 KiB, through the I/O thread) and stop on SIGTERM.
    worker = start_worker("echo:echo_body", "--io-spin-us", "200", "--contexts", "2")
    with requests.Session() as session:
        for size in [0, 1, 13, 4096, 65536, 200_000] * 20:
            body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
            response = session.post(worker.url + "/", data=body, timeout=10)
            assert response.status_code == 200 and response.content == body
    assert requests.post(worker.url + "/", data=b"fresh", timeout=10).content == b"fresh"
    assert worker.stop(signal.SIGTERM, timeout=10) == 0, worker.log
