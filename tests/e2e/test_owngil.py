"""context_mode: owngil: each context a subinterpreter with its own GIL, where the build's
Python has them (3.12+: PYTHON=... scripts/build). The rest of the end-to-end suite runs in
this mode too (the e2e-owngil.* tests); these show what only this mode has."""

import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import CONTEXT_MODE, WORKER_BIN, WORKER_PYTHON

pytestmark = [
    pytest.mark.skipif(tuple(map(int, WORKER_PYTHON.split(".")[:2])) < (3, 12),
                       reason=f"this build embeds Python {WORKER_PYTHON}, which has no own-GIL subinterpreters"),
    pytest.mark.skipif(CONTEXT_MODE != "thread", reason="these set the mode themselves: run once, with e2e.*"),
]

OWNGIL = ("--context-mode", "owngil")


def concurrent_gets(url, count, clients=8):
    with ThreadPoolExecutor(clients) as pool:
        return [response.json() for response in pool.map(lambda _: requests.get(url, timeout=30), range(count))]


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_each_context_is_an_interpreter_of_its_own(start_worker, kind):
    app = "owngil_app:app" if kind == "wsgi" else "owngil_app:asgi_app"
    worker = start_worker(app, *OWNGIL, "--contexts", "2", "-k", kind)
    assert re.search(rf"with 2 context\(s\) \(own-GIL subinterpreters, Python {re.escape(WORKER_PYTHON)}\)", worker.log)
    answers = concurrent_gets(worker.url + "/?sleep=0.2", 8)
    interpreters = {answer["interpreter"] for answer in answers}
    assert len(interpreters) == 2 and 0 not in interpreters, answers  # two, neither the main one
    # Module globals are per interpreter: each counted only what it served.
    most_served = {i: max(a["served_here"] for a in answers if a["interpreter"] == i) for i in interpreters}
    assert sum(most_served.values()) == 8


def test_the_version_names_the_embedded_python():
    version = subprocess.run([WORKER_BIN, "--version"], capture_output=True, text=True, check=True).stdout
    assert f"(Python {WORKER_PYTHON}," in version


def test_the_shared_state_sums_writes_from_every_interpreter_of_every_worker(start_arbiter):
    arbiter = start_arbiter("owngil_app:app", workers=2, settings={"contexts": 2, "context_mode": "owngil"})
    answers = concurrent_gets(arbiter.url + "/?incr=50&sleep=0.02", 120)
    assert requests.get(arbiter.url + "/").json()["sum"] == 120 * 50
    writers = {(answer["pid"], answer["interpreter"]) for answer in answers}
    assert len(writers) >= 3, writers  # interpreters of both workers took part


def test_an_extension_refusing_subinterpreters_fails_the_boot_with_advice(start_worker, start_arbiter):
    advice = ("ImportError: module readline does not support loading in subinterpreters (context_mode: owngil runs "
              "each context in a subinterpreter, which this extension module refuses: serve this app with "
              "context_mode: thread)")
    worker = start_worker("refuses_subinterpreters:app", *OWNGIL, expect_ready=False)
    assert worker.exit_status(30) == 4  # the app does not load
    assert advice in worker.log
    arbiter = start_arbiter("refuses_subinterpreters:app", workers=1, settings={"context_mode": "owngil"},
                            expect_ready=False)
    assert arbiter.process.wait(60) == 3
    arbiter.wait_for_log(r"workers failed to boot 3 times in a row; last error: " + re.escape(advice))
    # In thread mode the same app serves.
    assert requests.get(start_worker("refuses_subinterpreters:app").url).text == "readline imported"


def test_sigterm_drains_and_ends_every_subinterpreter(start_worker):
    worker = start_worker("owngil_app:app", *OWNGIL, "--contexts", "4")
    concurrent_gets(worker.url, 40)
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(requests.get, worker.url + "/?sleep=1", timeout=30)
        time.sleep(0.3)  # let it reach a context (if it has not, it is simply served first)
        assert worker.stop() == 0
        assert in_flight.result().status_code == 200
    assert "SIGTERM: finishing in-flight requests" in worker.log and "stopped" in worker.log
    assert not re.search(r"Fatal Python error|free\(\)|Segmentation|AddressSanitizer", worker.log), worker.log


def test_contexts_importing_datetime_at_once_keep_its_types_apart(start_worker):
    """CPython 3.13 shares datetime's C types between interpreters and readies them in the
    first one to import it: every start here has eight subinterpreters do so at once."""
    for _ in range(4):
        worker = start_worker("datetime_everywhere_app:app", *OWNGIL, "--contexts", "8")
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: requests.get(worker.url, timeout=30), range(32)))
        assert [(a.status_code, a.text) for a in answers] == [(200, "intact")] * 32, worker.log
        assert worker.stop() == 0, worker.log
        assert not re.search(r"Fatal Python error|free\(\)|corrupt|Segmentation|Traceback", worker.log), worker.log
