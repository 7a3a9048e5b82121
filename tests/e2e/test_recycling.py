"""Recycling workers by memory (max_worker_memory) and by age (max_worker_lifetime): the
replacement first, ready-gated, and no failed request under load."""

import re
import time

import requests

from conftest import Load
from peers import free_port


def exits_by_cause(metrics_url):
    text = requests.get(f"{metrics_url}/metrics", timeout=10).text
    return {cause: float(value) for cause, value in
            re.findall(r'hornbeam_worker_exits_total\{cause="(\w+)"\} (\S+)', text)}


def resident_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def limit_above_fresh_workers(arbiter, headroom_mib):
    """Reloads with max_worker_memory at what the fresh workers hold plus `headroom_mib` (an
    ASan build's workers start far bigger than a release build's); the workers of generation
    2 then serve under it. Returns the limit in MiB."""
    limit = int(max(resident_mib(pid) for pid in arbiter.workers())) + headroom_mib
    arbiter.reload_with(max_worker_memory=f"{limit}MiB")
    arbiter.wait_for_log(r"generation 2: \d+ worker\(s\) ready")
    arbiter.wait_for_workers(arbiter.settings["workers"])
    return limit


def test_a_leaking_worker_is_replaced_past_max_worker_memory(start_arbiter):
    metrics = f"127.0.0.1:{free_port()}"
    arbiter = start_arbiter("supervised:leaky", workers=2, settings={"metrics_bind": metrics})
    limit = limit_above_fresh_workers(arbiter, 48)
    first = set(arbiter.workers())
    # 1 MiB per request, paced (about 25 per second over both workers): a slow leak, which the
    # arbiter's once-a-second look catches well before twice the limit.
    session = requests.Session()
    statuses, served_by = [], set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = session.get(arbiter.url, timeout=10)
        statuses.append(response.status_code)
        served_by.add(int(response.text))
        if arbiter.count(r"generation 2\) exited") and served_by - first:
            break
        time.sleep(0.04)
    arbiter.wait_for_log(rf"uses \d+\.\d MiB, above max_worker_memory \({limit}\.0 MiB\): "
                         r"starting its replacement")
    arbiter.wait_for_log(r"generation 2\) exited")
    assert statuses and set(statuses) == {200}, statuses
    assert served_by - first, "a replacement served"
    assert "past twice max_worker_memory" not in arbiter.log
    assert exits_by_cause(f"http://{metrics}")["memory"] >= 1


def test_a_worker_past_twice_max_worker_memory_is_killed(start_arbiter, tmp_path):
    marker = tmp_path / "slow-boot"
    arbiter = start_arbiter("supervised:leaky", workers=1,
                            env={"HB_TEST_SLOW_BOOT_MARKER": str(marker)})
    limit = limit_above_fresh_workers(arbiter, 24)
    [hog] = arbiter.workers()
    marker.touch()  # its replacement takes 3 s to boot
    try:
        assert requests.get(f"{arbiter.url}/hog?mib={3 * limit}", timeout=30).status_code == 200
    except requests.ConnectionError:
        pass  # killed before its answer left (a slow build allocates slowly): the log says so
    arbiter.wait_for_log(rf"pid {hog}, generation 2\) uses \d+\.\d MiB, above max_worker_memory "
                         rf"\({limit}\.0 MiB\): starting its replacement")
    arbiter.wait_for_log(rf"worker \d+ \(pid {hog}, generation 2\) uses \d+\.\d MiB, past twice "
                         rf"max_worker_memory \({limit}\.0 MiB\) before its replacement was "
                         r"ready: killing it")
    arbiter.wait_for_log(rf"pid {hog}, generation 2\) was killed \(SIGKILL from the arbiter\)")
    arbiter.wait_for_log(r"generation 2\) ready", count=2)
    assert int(requests.get(arbiter.url, timeout=10).text) != hog


def test_a_limit_below_what_a_fresh_worker_uses_is_named_in_the_log(start_arbiter):
    arbiter = start_arbiter("supervised:pid", workers=1, settings={"max_worker_memory": "4MiB"})
    [worker] = arbiter.workers()
    arbiter.wait_for_log(r"uses \d+\.\d MiB as soon as it is ready, above max_worker_memory "
                         r"\(4\.0 MiB\): the limit is below what the app needs to run; recycling "
                         r"by memory is off for generation 1")
    time.sleep(2.5)  # two more looks: no churn, no kill
    assert requests.get(arbiter.url, timeout=10).status_code == 200
    assert arbiter.workers() == [worker] and arbiter.count("spawned worker") == 1, arbiter.log


def test_lifetime_recycles_workers_one_at_a_time_without_a_failed_request(start_arbiter):
    metrics = f"127.0.0.1:{free_port()}"
    arbiter = start_arbiter("supervised:pid", workers=3, settings={
        "max_worker_lifetime": "3s", "metrics_bind": metrics})
    originals = arbiter.workers()
    load = Load(arbiter.url, clients=4)
    try:
        for pid in originals:
            arbiter.wait_for_log(rf"pid {pid}, generation 1\) exited", timeout=60)
        load.wait_for(20)
    finally:
        load.stop()
    assert load.errors == [] and set(load.statuses) == {200}, (load.statuses, load.errors[:3])
    # One at a time: a worker reaches its lifetime only once the previous one's replacement is
    # ready, so "reached" and "ready" lines alternate.
    events = re.findall(r"(reached max_worker_lifetime|spawned worker|\) ready$)", arbiter.log,
                        re.MULTILINE)
    retiring = 0
    for event in events[events.index("reached max_worker_lifetime"):]:
        if event == "reached max_worker_lifetime":
            retiring += 1
            assert retiring == 1, f"two workers recycled at once:\n{arbiter.log}"
        elif event == ") ready":
            retiring = 0
    assert exits_by_cause(f"http://{metrics}")["lifetime"] >= 3


def test_lifetime_jitter_gives_each_worker_its_own_lifetime(start_arbiter):
    arbiter = start_arbiter("supervised:pid", workers=3, settings={
        "max_worker_lifetime": "1s", "max_worker_lifetime_jitter": "4s"})
    arbiter.wait_for_log(r"reached max_worker_lifetime", count=3, timeout=60)
    lifetimes = [float(seconds) for seconds in
                 re.findall(r"reached max_worker_lifetime \((\d+\.\d)s\)", arbiter.log)]
    assert all(1.0 <= seconds <= 5.0 for seconds in lifetimes), lifetimes
    assert len(set(lifetimes[:3])) > 1, f"three workers drew the same lifetime: {lifetimes}"
