"""The effect of the settings no other end-to-end test shows (every setting has one: the
unit test EverySetting.HasAnEndToEndTest names them all)."""

import os
import re
import subprocess
from pathlib import Path

import pytest
import requests

from conftest import WORKER_PYTHON


def test_context_mode_owngil_is_refused_on_this_python(start_worker):
    # The default build embeds Debian's Python 3.11, which has no own-GIL subinterpreters
    # (test_owngil.py shows the mode where the build has them).
    if tuple(map(int, WORKER_PYTHON.split(".")[:2])) >= (3, 12):
        pytest.skip(f"this build embeds Python {WORKER_PYTHON}, which has own-GIL subinterpreters")
    worker = start_worker("echo:hello", "--context-mode", "owngil", expect_ready=False)
    assert worker.exit_status(30) == 2
    assert "`context_mode`: `owngil` needs Python 3.12 or newer; this build embeds Python 3.11" in worker.log


def test_context_mode_thread_runs_contexts_as_threads_of_one_interpreter(start_worker):
    worker = start_worker("echo:thread_local_counter", "--context-mode", "thread", "--contexts", "2")
    assert "with 2 context(s)" in worker.log
    assert requests.get(worker.url).status_code == 200


def test_max_requests_jitter_gives_each_worker_its_own_limit(start_arbiter):
    arbiter = start_arbiter("supervised:pid", workers=3, settings={"max_requests": 1000, "max_requests_jitter": 1000000})
    arbiter.wait_for_log(r"recycled after \d+ requests", count=3)
    limits = [int(limit) for limit in re.findall(r"recycled after (\d+) requests", arbiter.log)]
    assert len(set(limits)) == 3 and all(1000 <= limit <= 1001000 for limit in limits)


def test_backlog_is_the_listen_queue_length(start_worker):
    worker = start_worker("echo:hello", "--backlog", "7")
    line = subprocess.run(["ss", "-ltnH", f"sport = :{worker.port}"], capture_output=True, text=True).stdout
    assert line.split()[2] == "7", line  # Send-Q of a listening socket: its backlog


def test_group_switches_the_workers_group(start_arbiter):
    if os.getuid() != 0:
        pytest.skip("switching groups needs root")
    arbiter = start_arbiter("supervised:pid", workers=1, settings={"group": "nogroup", "chdir": "/"})
    [worker] = arbiter.workers()
    gid_line = next(line for line in Path(f"/proc/{worker}/status").read_text().splitlines() if line.startswith("Gid:"))
    assert gid_line.split()[1:] == ["65534"] * 4


def test_body_buffer_threshold_decides_what_arrives_whole(start_worker):
    # Below the threshold the body is read before the app runs (wsgi.input is a BytesIO);
    # above it, it streams (hornbeam.Input reads it as it arrives).
    body = os.urandom(4096)
    default = start_worker("echo:environ_json")
    assert "BytesIO" in requests.post(default.url, data=body).json()["wsgi.input"]
    small = start_worker("echo:environ_json", "--limits-body-buffer-threshold", "1KiB")
    environ = requests.post(small.url, data=body).json()
    assert "hornbeam.Input" in environ["wsgi.input"] and len(environ["body"]) == 4096
