"""Starting and stopping hornbeam-worker."""

import signal
import threading

import requests


def test_import_error_exits_4_with_the_traceback(start_worker):
    worker = start_worker("broken_import:application", expect_ready=False)
    assert worker.process.wait(30) == 4
    worker.stop()
    assert "Traceback (most recent call last)" in worker.log
    assert "No module named 'module_that_does_not_exist_hornbeam'" in worker.log


def test_missing_callable_names_the_part_not_found(start_worker):
    worker = start_worker("echo:no_such_app", expect_ready=False)
    assert worker.process.wait(30) == 4
    worker.stop()
    assert "`echo` has no attribute `no_such_app`" in worker.log


def test_sigterm_lets_the_request_in_flight_finish(start_worker):
    worker = start_worker("echo:sleeps")
    result = {}

    def slow_request():
        result["response"] = requests.get(worker.url + "/?1.5")

    thread = threading.Thread(target=slow_request)
    thread.start()
    worker.wait_for_log("ready")  # already ready; the request is now on its way
    import time
    deadline = time.monotonic() + 5
    # Wait until the app is running the request (its context is busy) before sending TERM.
    while time.monotonic() < deadline and not _connections_established(worker.port):
        time.sleep(0.01)
    assert worker.stop(signal.SIGTERM) == 0
    thread.join(10)
    assert result["response"].status_code == 200
    assert result["response"].text == "slept"


def _connections_established(port):
    with open("/proc/net/tcp") as table:
        local = f":{port:04X}"
        return any(line.split()[1].endswith(local) and line.split()[3] == "01" for line in table.readlines()[1:])


def test_sigint_stops_at_once(start_worker):
    worker = start_worker("echo:hello")
    assert requests.get(worker.url).status_code == 200
    assert worker.stop(signal.SIGINT) == 0
