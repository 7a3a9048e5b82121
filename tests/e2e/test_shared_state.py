"""The shared state (the `hornbeam` module and the ASGI lifespan state) across real workers
of a real arbiter, and the process-local module outside the server. The tests of what every
backend must do run on each: the shared memory of the host, a Redis server and a Redis
Cluster (real ones, on loopback)."""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from conftest import APPS, SOURCE, pid_alive

EXPECTED_API = {
    **{f"roundtrip {name}": True for name in (
        "str", "bytes", "int", "big_int", "float", "true", "none", "list", "dict", "date", "fraction",
        "surrogate")},
    "missing is the default": "dflt", "missing is None": None, "default by keyword": 7,
    "values are copies": [1, 2],
    "incr starts at 0": 1, "incr by 5": 6, "decr by 2": 4, "decr default": 3, "decr missing": -3,
    "incr a str": ["raised", "TypeError"], "incr past int64": ["raised", "OverflowError"],
    "incr by a float": ["raised", "TypeError"], "int after failed incr": True,
    "non-str key": ["raised", "TypeError"], "unpicklable": ["raised", "TypeError"],
    "str over an int": ["five", ["raised", "TypeError"]], "int over a str": [6, 7],
    "add an int": [True, False, False, 7],
    "add new": True, "add existing": False, "added value": "first", "delete": True, "delete again": False,
    "multi": {"api:n": 3, "api:str": "héllo ✓"}, "keys by prefix": ["api:n", "api:none"],
    "all keys include": True, "StateFull is an Exception": True,
    "StateUnavailable is an Exception": True,
    "publish reaches": [1, 1, 1, 0],
    "messages": ["('api:t1', 'héllo')", "('api:t2', b'\\x00raw')", "('api:t1', {'a': [1, 2]})"],
    "nothing more": None, "iterates with timeout": None, "async for": "('api:t2', [1, 'two'])",
    "a full subscription drops": 5, "kept": 1000, "closed by with": True, "after close": 0,
    "too big": ["raised", "ValueError"], "non-str topic": ["raised", "TypeError"],
    "no topic": ["raised", "TypeError"],
    "pubsub in state_info": ["delivered", "dropped", "published", "subscriptions"], "same functions as hornbeam_erlang": True,
}


def get(url, **params):
    response = requests.get(url, params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json(), int(response.headers["x-pid"])


def from_other_worker(url, not_pid, **params):
    """The answer of a worker other than `not_pid` (requests land where the kernel puts them)."""
    for _ in range(400):
        body, pid = get(url, **params)
        if pid != not_pid:
            return body, pid
    raise AssertionError("every request went to the same worker")


@pytest.fixture(params=["shm", "redis", "redis-cluster"])
def backend(request):
    """The `shared_state` settings of a backend; on Redis, under a prefix of the test's own."""
    if request.param == "shm":
        return {}
    server = request.getfixturevalue("redis_server" if request.param == "redis" else "redis_cluster")
    return {"shared_state": {"backend": server.url, "prefix": f"{request.node.name}:"}}


@pytest.fixture
def wsgi_pair(start_arbiter, backend):
    return start_arbiter("shared_state_app:app", workers=2, settings={"contexts": 4, **backend})


def test_the_api_behaves_as_documented_inside_the_server(wsgi_pair):
    assert get(wsgi_pair.url + "/checks")[0] == EXPECTED_API


def test_the_process_local_module_behaves_the_same_outside_the_server():
    code = "import json, hornbeam, state_api_checks; print(json.dumps(state_api_checks.run(hornbeam)))"
    env = {**os.environ, "PYTHONPATH": f"{SOURCE / 'pylib'}:{APPS}"}
    output = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(output.stdout) == EXPECTED_API


def test_a_value_set_in_one_worker_is_read_by_another(wsgi_pair):
    _, setter = get(wsgi_pair.url + "/set", key="greeting", value="hi from a worker")
    body, reader = from_other_worker(wsgi_pair.url + "/get", setter, key="greeting")
    assert body == {"value": "hi from a worker"} and reader != setter


def test_increments_from_two_workers_of_four_contexts_lose_nothing(wsgi_pair):
    # 8 requests at a time of 5,000 increments each, until both workers have taken part.
    pids, batches = set(), 0
    with ThreadPoolExecutor(8) as pool:
        while len(pids) < 2 and batches < 20:
            pids |= {pid for _, pid in pool.map(lambda _: get(wsgi_pair.url + "/incr", n=5000, key="hits"),
                                                range(8))}
            batches += 1
    assert len(pids) == 2
    assert get(wsgi_pair.url + "/get", key="hits")[0]["value"] == batches * 8 * 5000


def test_a_full_store_raises_state_full_with_figures_and_changes_nothing(start_worker):
    worker = start_worker("shared_state_app:app", "--shared-state-size", "256KiB")
    body, _ = get(worker.url + "/fill", size=10_000)
    assert body["stored"] > 5 and body["keep"] == "kept" and body["last"] is None
    assert body["message"].startswith("the shared state is full: an entry of ")
    assert "shared_state.size" in body["message"]
    assert body["used"] <= body["capacity"] < 256 * 1024 and body["entries"] == body["stored"] + 1
    assert body["needed"] > 10_000


def test_a_million_set_delete_cycles_of_1kib_keep_working_in_16mib(start_worker):
    worker = start_worker("shared_state_app:app", "--shared-state-size", "16MiB")
    info, _ = get(worker.url + "/churn", n=1_000_000)
    assert info["entries"] == 0 and info["used"] == 0
    assert info["largest_free"] > 15 * 1024 * 1024


def test_the_state_outlives_crashed_workers_and_reloads(start_arbiter, backend):
    arbiter = start_arbiter("shared_state_app:app", workers=2, settings=backend)
    get(arbiter.url + "/set", key="survivor", value="still here")
    victim = arbiter.workers()[0]
    os.kill(victim, signal.SIGKILL)
    arbiter.wait_for_log(r"generation 1\) ready", count=3)
    arbiter.send(signal.SIGHUP)
    arbiter.wait_for_log(r"generation 2: 2 worker\(s\) ready", timeout=60)
    arbiter.wait_for_workers(2)
    for _ in range(10):
        assert get(arbiter.url + "/get", key="survivor")[0] == {"value": "still here"}


def test_the_state_survives_a_usr2_binary_upgrade(start_arbiter, tmp_path):
    pidfile = tmp_path / "hornbeam.pid"
    arbiter = start_arbiter("shared_state_app:app", workers=2, settings={"pidfile": str(pidfile)})
    old_workers = set(arbiter.workers())
    get(arbiter.url + "/set", key="across upgrades", value="kept")
    arbiter.send(signal.SIGUSR2)
    arbiter.wait_for_log(r"generation 1: 2 worker\(s\) ready", count=2, timeout=60)  # the new arbiter's
    new_pid = int(pidfile.read_text())
    try:
        assert arbiter.stop(signal.SIGTERM) == 0  # the old arbiter and its workers go
        for _ in range(10):
            body, pid = get(arbiter.url + "/get", key="across upgrades")
            assert body == {"value": "kept"} and pid not in old_workers
    finally:
        os.kill(new_pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while pid_alive(new_pid) and time.monotonic() < deadline:
            time.sleep(0.05)


def started_at(pid):
    """When a process started (clock ticks since boot)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[19])


def test_workers_killed_while_writing_never_leave_a_torn_value_nor_a_hung_store(start_arbiter):
    """Every worker writes checksummed values without end while workers are SIGKILLed in a
    loop, so some die in the middle of a write, holding the lock. Readers meanwhile check
    every value; none may be torn, and nobody may be left waiting on a dead worker's lock."""
    arbiter = start_arbiter("shared_state_app:app", workers=3, settings={"contexts": 2},
                            env={"HB_TEST_WRITE_FOREVER": "1"})
    stop = threading.Event()
    verified, torn, recoveries = [], [], []

    def reader():
        session = requests.Session()
        while not stop.is_set():
            try:
                response = session.get(arbiter.url + "/verify", timeout=10)
            except requests.ConnectionError:
                continue  # its worker was killed under it
            body = response.json()
            verified.append(body["checked"])
            torn.extend(body["torn"])
            recoveries.append(body["info"]["recoveries"])

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        # The oldest worker dies each time, once its replacement is ready: a slot gets a
        # replacement at most once a second (the arbiter's crash backoff), and the oldest
        # slot's second has passed. (Pids can wrap around: the age comes from /proc.)
        # A kill lands inside the lock only by chance (in one CI run, none of 30 did): after
        # 30, the kills go on until the readers have seen a repair, up to 90.
        kill = 0
        while kill < 30 or (kill < 90 and max(recoveries, default=0) == 0):
            arbiter.wait_for_log(r"generation 1\) ready", count=3 + kill, timeout=30)
            time.sleep(random.uniform(0.03, 0.1))  # the replacement is writing by now
            os.kill(min(arbiter.workers(), key=started_at), signal.SIGKILL)
            kill += 1
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert torn == [] and len(verified) > 30
    arbiter.wait_for_workers(3)
    # The writers go on: the store is not held by a dead worker.
    before = get(arbiter.url + "/get", key="writes")[0]["value"]
    deadline = time.monotonic() + 10
    while get(arbiter.url + "/get", key="writes")[0]["value"] == before:
        assert time.monotonic() < deadline, "no write since the last kill"
    body, _ = get(arbiter.url + "/verify")
    assert body["torn"] == [] and body["checked"] == 200
    # Kills landed inside the lock, and the next locker repaired the store.
    assert body["info"]["recoveries"] >= 1, body["info"]
    arbiter.wait_for_log("shared state: a process died holding its lock; the store is repaired",
                         timeout=10)


@pytest.fixture
def asgi_pair(start_arbiter, tmp_path, backend):
    shutdowns = tmp_path / "shutdowns"
    shutdowns.mkdir()
    arbiter = start_arbiter("shared_state_app:asgi_app", workers=2,
                            settings={"worker_class": "asgi", "contexts": 2, **backend},
                            env={"HB_TEST_SHUTDOWN_DIR": str(shutdowns)})
    arbiter.shutdowns = shutdowns
    return arbiter


def test_lifespan_state_is_one_state_for_every_worker(asgi_pair):
    url = asgi_pair.url + "/lifespan-state"
    first, first_pid = get(url)
    other, other_pid = from_other_worker(url, first_pid)
    # The picklable config is shared: the first worker to start wrote it, for everyone.
    assert first["config"] == other["config"] and first["config"]["booted_by"] in asgi_pair.workers()
    # The lock does not pickle: each worker sees its own, none is in the store.
    assert first["pool_is_this_workers"] and other["pool_is_this_workers"]
    assert first["pool_in_store"] == "absent"
    assert "ASGI state 'pool' stays in this worker, unshared (TypeError: cannot pickle" in asgi_pair.log
    # A request's write in one worker is read by the other.
    _, setter = get(url, flag="on")
    assert from_other_worker(url, setter)[0]["flag"] == "on"
    assert get(asgi_pair.url + "/get", key="startups")[0]["value"] == 4  # 2 workers x 2 contexts


def test_restarted_and_reloaded_workers_keep_the_shared_lifespan_values(asgi_pair):
    url = asgi_pair.url + "/lifespan-state"
    before, _ = get(url, flag="on")
    os.kill(asgi_pair.workers()[0], signal.SIGKILL)
    asgi_pair.wait_for_log(r"generation 1\) ready", count=3)
    asgi_pair.send(signal.SIGHUP)
    asgi_pair.wait_for_log(r"generation 2: 2 worker\(s\) ready", timeout=60)
    asgi_pair.wait_for_workers(2)
    for _ in range(10):
        after, pid = get(url)
        assert after["config"] == before["config"] and after["flag"] == "on"
        assert after["pool_is_this_workers"] and pid != before["config"]["booted_by"]
    # Every worker's startup ran (first writer wins did not skip any), and the old ones
    # ran their shutdown.
    assert get(asgi_pair.url + "/get", key="startups")[0]["value"] == 4 + 2 + 4
    assert len(list(asgi_pair.shutdowns.iterdir())) >= 2


def test_shutdown_runs_in_every_worker(asgi_pair):
    workers = set(asgi_pair.workers())
    assert asgi_pair.stop(signal.SIGTERM) == 0
    assert {int(path.name) for path in asgi_pair.shutdowns.iterdir()} == workers
