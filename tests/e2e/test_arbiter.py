"""hornbeam-arbiter with real workers: supervision, timeouts, crashes, signals, sockets."""

import contextlib
import json
import os
import re
import signal
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import APPS, ARBITER_BIN, EMBEDDED_PYTHON, Load, pid_alive, systemd_activation


def test_workers_boot_serve_and_stop_with_term(start_arbiter, tmp_path):
    pidfile = tmp_path / "hornbeam.pid"
    arbiter = start_arbiter("supervised:pid", workers=2, settings={"pidfile": str(pidfile)})
    assert int(pidfile.read_text()) == arbiter.process.pid
    assert arbiter.count(r"worker \d+ \(pid \d+, generation 1\) ready") == 2
    workers = arbiter.workers()
    assert len(workers) == 2
    answered = {int(requests.get(arbiter.url).text) for _ in range(20)}
    assert answered <= set(workers)
    assert arbiter.stop(signal.SIGTERM) == 0
    assert not pidfile.exists()
    assert not any(pid_alive(pid) for pid in workers)


def test_no_fd_of_the_arbiter_leaks_into_a_worker_but_the_sockets_and_the_segment(start_arbiter):
    arbiter = start_arbiter("supervised:pid", workers=1)
    [worker] = arbiter.workers()

    def targets(pid):
        result = {}
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                result[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                pass
        return result

    shared = {fd: target for fd, target in targets(worker).items()
              if target in set(targets(arbiter.process.pid).values()) and fd > 2}
    kinds = sorted("socket" if t.startswith("socket:") else "shm" if "hornbeam-shm" in t else t
                   for t in shared.values())
    assert kinds == ["shm", "socket"], shared


def test_a_worker_killed_under_load_is_replaced_within_2s(start_arbiter):
    arbiter = start_arbiter("supervised:pid", workers=2)
    load = Load(arbiter.url, clients=6)
    try:
        load.wait_for(200)
        victim = arbiter.workers()[0]
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        arbiter.wait_for_log(rf"pid {victim}, generation 1\) was killed by SIGKILL \(perhaps out of memory\?\)")
        arbiter.wait_for_log(r"generation 1\) ready", count=3, timeout=5)
        assert time.monotonic() - killed_at < 2.5
        assert victim not in arbiter.workers() and len(arbiter.workers()) == 2
        load.wait_for(200)
    finally:
        load.stop()
    assert set(load.statuses) == {200}
    # Only requests in flight on the killed worker fail: at most one per client.
    assert len(load.errors) <= 6, load.errors


def test_a_request_that_crashes_every_worker_never_makes_the_arbiter_give_up(start_arbiter):
    # Each fresh worker takes a queued /crash as soon as it is ready and dies of it, usually
    # before the arbiter's next look at its slot: crashes to recover from, not boot failures
    # (three of which in a row stop the arbiter).
    arbiter = start_arbiter("supervised:crashing", workers=1)
    load = Load(arbiter.url + "/crash", clients=2)
    try:
        # (Under AddressSanitizer the worker reports the SEGV and exits 1 instead.)
        arbiter.wait_for_log(r"generation 1\) (was killed by SIGSEGV|exited with code 1)", count=5, timeout=20)
    finally:
        load.stop()
    assert arbiter.process.poll() is None, arbiter.log
    assert arbiter.count("failed to boot") == 0, arbiter.log
    assert not load.statuses, "a crashed request got an answer"
    arbiter.wait_for_workers(1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            assert requests.get(arbiter.url, timeout=5).status_code == 200
            break
        except requests.ConnectionError:
            time.sleep(0.2)  # the last one crashed: its replacement comes within a second
    else:
        raise AssertionError(arbiter.log)


@contextlib.contextmanager
def arbiter_on_its_own(tmp_path, workers, **popen):
    """An arbiter started with `popen`'s arguments (its standard fds, which start_arbiter
    keeps to itself), serving supervised:pid: (process, its port). Stopped with TERM, which
    must exit 0."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "hornbeam.yaml"
    config.write_text(json.dumps({"app": "supervised:pid", "pythonpath": [str(APPS)], "workers": workers,
                                  "bind": [f"127.0.0.1:{port}"], "logging": {"access_log": "-"}}))
    arbiter = subprocess.Popen([ARBITER_BIN, "-c", str(config)], **popen)
    try:
        yield arbiter, port
        assert arbiter.poll() is None
        arbiter.send_signal(signal.SIGTERM)
        assert arbiter.wait(30) == 0
    finally:
        if arbiter.poll() is None:
            arbiter.kill()
            arbiter.wait()


def worker_pids_answering(port, count, timeout=30):
    """The pids of `count` different workers that answered on `port`."""
    deadline = time.monotonic() + timeout
    answers = set()
    while len(answers) < count and time.monotonic() < deadline:
        try:
            answers.add(int(requests.get(f"http://127.0.0.1:{port}/", timeout=5).text))
        except requests.ConnectionError:
            time.sleep(0.1)
    assert len(answers) == count, f"{len(answers)} of {count} workers answered"
    return answers


def test_a_log_reader_that_went_away_kills_nothing(tmp_path):
    # `hornbeam-arbiter | head`, a log collector restarted: every log line meets a closed
    # pipe. SIGPIPE's default action killed each worker as it booted, and the arbiter gave up.
    read_end, write_end = os.pipe()
    os.close(read_end)
    with arbiter_on_its_own(tmp_path, 2, stdin=subprocess.DEVNULL, stdout=write_end,
                            stderr=write_end) as (arbiter, port):
        os.close(write_end)
        worker_pids_answering(port, 2)  # each writes its access log to the pipe too
        time.sleep(1)


def test_started_with_stdin_stdout_and_stderr_closed_it_serves_with_them_on_dev_null(tmp_path):
    # The next descriptors opened took the numbers 0-2: the shared-memory segment became
    # stdin, a pipe stdout, and the workers failed to boot (the arbiter gave up).
    def close_standard_fds():
        for fd in (0, 1, 2):
            os.close(fd)

    with arbiter_on_its_own(tmp_path, 1, preexec_fn=close_standard_fds) as (arbiter, port):
        [worker] = worker_pids_answering(port, 1)
        for pid in (arbiter.pid, worker):
            assert [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in (0, 1, 2)] == ["/dev/null"] * 3


def test_a_stuck_request_gets_504_the_traceback_is_logged_and_the_worker_replaced(start_arbiter):
    arbiter = start_arbiter("supervised:stuck", workers=1, settings={"timeout": "2s"})
    [stuck_worker] = arbiter.workers()
    started = time.monotonic()
    response = requests.get(arbiter.url + "/stuck", timeout=30)
    assert response.status_code == 504
    assert 1.5 < time.monotonic() - started < 10
    arbiter.wait_for_log(r"has been running a request for [\d.]+s \(timeout 2.0s\): replacing it")
    arbiter.wait_for_log(r"worker timed out: Python tracebacks of its threads follow")
    # Written before the 504 is sent, but they reach the test through pipes, line by line.
    arbiter.wait_for_log(r'File ".*supervised.py", line \d+ in stuck_forever_in_here', timeout=10)
    arbiter.wait_for_log(r"Context 0 \(Thread 0x[0-9a-f]+\)", timeout=10)
    arbiter.wait_for_log(r"generation 1\) ready", count=2)
    replacement = requests.get(arbiter.url, timeout=10)
    assert replacement.status_code == 200 and int(replacement.text) != stuck_worker
    arbiter.wait_for_log(rf"pid {stuck_worker}, generation 1\) exited with code 1")


def test_slow_clients_never_get_their_worker_replaced_for_timeout(start_arbiter):
    # `timeout` judges the app. The time a context waits for its client (to take the response,
    # to send the body) is the client's, and limits.send_timeout and limits.body_timeout cut
    # that one client; counted as the app's, it had the worker replaced with every request on
    # it, by any client that read or sent slowly.
    arbiter = start_arbiter("supervised:streams_or_reads_then_hangs", workers=1,
                            settings={"timeout": "2s", "contexts": 2})
    [worker] = arbiter.workers()
    download = socket.create_connection(("127.0.0.1", arbiter.port))
    download.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert download.recv(100).startswith(b"HTTP/1.1 200")  # then never read
    upload = socket.create_connection(("127.0.0.1", arbiter.port))
    size = 200_000  # past limits.body_buffer_threshold: the app reads it as it comes
    upload.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode())
    for _ in range(8):  # 4 s, twice the timeout
        upload.sendall(b"u" * 20_000)
        time.sleep(0.5)
    assert arbiter.workers() == [worker]
    assert "has been running a request" not in arbiter.log
    # The body ends and the app hangs: from here its own time is judged again.
    upload.sendall(b"u" * (size - 8 * 20_000))
    arbiter.wait_for_log(r"has been running a request for [\d.]+s \(timeout 2.0s\): replacing it", timeout=15)
    overdue = float(re.search(r"running a request for ([\d.]+)s", arbiter.log).group(1))
    assert overdue < 3.5, "the wait for the upload's bytes is not the app's time"
    download.close()
    upload.close()


def test_five_hups_under_load_fail_no_request(start_arbiter):
    arbiter = start_arbiter("supervised:pid", workers=2, settings={"graceful_timeout": "10s"})
    first = set(arbiter.workers())
    load = Load(arbiter.url, clients=6)
    try:
        load.wait_for(100)
        for generation in range(2, 7):
            arbiter.send(signal.SIGHUP)
            arbiter.wait_for_log(rf"generation {generation}: 2 worker\(s\) ready", timeout=60)
            load.wait_for(50)
        arbiter.wait_for_workers(2)
    finally:
        load.stop()
    assert load.errors == []
    assert set(load.statuses) == {200}
    assert not first & set(arbiter.workers())


def test_hup_with_a_broken_config_keeps_serving(start_arbiter):
    arbiter = start_arbiter("supervised:pid", workers=1)
    workers = arbiter.workers()
    arbiter.reload_with(workers="lots")
    arbiter.wait_for_log(r"the new configuration is invalid; still serving with the previous one")
    assert re.search(r"reload: .*hornbeam.yaml:1:\d+: `workers`", arbiter.log), arbiter.log
    assert requests.get(arbiter.url).status_code == 200
    assert arbiter.workers() == workers


def test_hup_to_more_workers_than_the_segment_has_slots_for_keeps_serving(start_arbiter):
    # 64 slots, two generations' worth of 32: with 63, the new generation never had all its
    # slots, and the reload never ended (both generations ran on, half of it spawned).
    arbiter = start_arbiter("supervised:pid", workers=1)
    workers = arbiter.workers()
    arbiter.reload_with(workers=33)
    arbiter.wait_for_log(r"cannot run 33 workers: this arbiter's shared-memory segment has slots for 32 .*; "
                         r"still serving with the previous configuration")
    assert requests.get(arbiter.url).status_code == 200
    assert arbiter.workers() == workers


def test_hup_to_an_app_that_cannot_boot_keeps_the_old_generation(start_arbiter):
    arbiter = start_arbiter("supervised:pid", workers=1)
    workers = arbiter.workers()
    arbiter.reload_with(app="broken_import:application")
    arbiter.wait_for_log(r"reload abandoned: generation 2 cannot boot; generation 1 keeps serving")
    assert requests.get(arbiter.url).status_code == 200
    time.sleep(1.5)
    assert arbiter.workers() == workers


def wait_until_running(marker):
    """Until the app has started the request (echo:marks_then_sleeps creates `marker`)."""
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert marker.exists()


def test_term_lets_a_slow_request_finish_then_exits_0(start_arbiter, tmp_path):
    arbiter = start_arbiter("echo:marks_then_sleeps", workers=1)
    marker = tmp_path / "running"
    result = {}
    def slow_request():
        try:
            result["r"] = requests.get(f"{arbiter.url}/?{marker}&3", timeout=30)
        except Exception as error:  # noqa: BLE001 - shown when the assertion fails
            result["error"] = repr(error)

    thread = threading.Thread(target=slow_request)
    thread.start()
    wait_until_running(marker)
    assert arbiter.stop(signal.SIGTERM, timeout=30) == 0  # one TERM: a second one means "stop now"
    thread.join(10)
    assert "r" in result, f"{result}\n{arbiter.log}"
    assert result["r"].status_code == 200


def test_int_stops_at_once(start_arbiter, tmp_path):
    arbiter = start_arbiter("echo:marks_then_sleeps", workers=1)
    marker = tmp_path / "running"
    def doomed_request():
        try:
            requests.get(f"{arbiter.url}/?{marker}&30", timeout=60)
        except requests.ConnectionError:
            pass  # a fast stop does not wait for it

    threading.Thread(target=doomed_request, daemon=True).start()
    wait_until_running(marker)
    started = time.monotonic()
    assert arbiter.stop(signal.SIGINT) == 0
    assert time.monotonic() - started < 8


def test_ttin_and_ttou_change_the_number_of_workers_never_below_one(start_arbiter):
    arbiter = start_arbiter("supervised:pid", workers=2)
    arbiter.send(signal.SIGTTIN)
    arbiter.wait_for_workers(3)
    for sent, expected in enumerate((2, 1, 1), start=1):
        arbiter.send(signal.SIGTTOU)
        arbiter.wait_for_log(r"SIGTTOU: \d worker\(s\)", count=sent)
        arbiter.wait_for_workers(expected)
    assert arbiter.log.count("SIGTTOU: 1 worker(s)") == 2  # never below one
    assert requests.get(arbiter.url).status_code == 200


def test_usr1_reopens_the_access_log_after_logrotate(start_arbiter, tmp_path):
    access = tmp_path / "access.log"
    arbiter = start_arbiter("supervised:pid", workers=2, settings={"logging": {"access_log": str(access)}})
    requests.get(arbiter.url + "/before")
    deadline = time.monotonic() + 5
    while "/before" not in access.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    access.rename(tmp_path / "access.log.1")
    arbiter.send(signal.SIGUSR1)
    arbiter.wait_for_log(r"SIGUSR1: log files reopened", count=3)  # the arbiter and both workers
    for _ in range(6):
        requests.get(arbiter.url + "/after", headers={"Connection": "close"})
    deadline = time.monotonic() + 5
    while not (access.exists() and access.read_text().count("/after") == 6) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert access.read_text().count("/after") == 6
    assert "/after" not in (tmp_path / "access.log.1").read_text()


def test_usr2_upgrade_then_term_to_the_old_arbiter_fails_no_request(start_arbiter, tmp_path):
    pidfile = tmp_path / "hornbeam.pid"
    arbiter = start_arbiter("supervised:pid", workers=2, settings={"pidfile": str(pidfile)})
    old_pid = arbiter.process.pid
    load = Load(arbiter.url, clients=6)
    new_pid = None
    try:
        load.wait_for(100)
        arbiter.send(signal.SIGUSR2)
        arbiter.wait_for_log(r"generation 1: 2 worker\(s\) ready", count=2, timeout=60)  # the new arbiter's
        oldbin = Path(str(pidfile) + ".oldbin")
        assert int(oldbin.read_text()) == old_pid
        new_pid = int(pidfile.read_text())
        assert new_pid != old_pid
        load.wait_for(100)
        assert arbiter.stop(signal.SIGTERM) == 0
        assert not oldbin.exists()
        load.wait_for(100)
        assert int(requests.get(arbiter.url).text) > 0
    finally:
        load.stop()
        if new_pid:
            os.kill(new_pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while pid_alive(new_pid) and time.monotonic() < deadline:
                time.sleep(0.05)
    assert load.errors == []
    assert set(load.statuses) == {200}


def test_an_app_that_cannot_import_stops_the_arbiter_with_3(start_arbiter):
    arbiter = start_arbiter("broken_import:application", workers=2, expect_ready=False)
    assert arbiter.process.wait(60) == 3
    arbiter.stop()
    assert "Traceback (most recent call last)" in arbiter.log
    last = arbiter.lines[-1]
    # Two workers fail side by side: the count may pass 3 within one reaping round.
    failures = re.search(r"failed to boot (\d+) times in a row", last)
    assert failures and int(failures.group(1)) >= 3, last
    assert "No module named 'module_that_does_not_exist_hornbeam'" in last, last


def test_with_the_error_log_in_a_file_the_reason_to_stop_also_reaches_stderr(start_arbiter, tmp_path):
    """A terminal, or systemd's journal, says why the arbiter stopped without anyone opening
    the log file."""
    log_file = tmp_path / "error.log"
    arbiter = start_arbiter("broken_import:application", workers=1, expect_ready=False,
                            settings={"logging": {"access_log": "", "error_log": str(log_file)}})
    assert arbiter.process.wait(60) == 3
    arbiter.stop()
    assert "Traceback (most recent call last)" in log_file.read_text()
    stderr = arbiter.log.splitlines()
    assert len(stderr) == 1 and stderr[0].startswith("hornbeam-arbiter: workers failed to boot"), stderr
    assert "No module named 'module_that_does_not_exist_hornbeam'" in stderr[0]
    assert stderr[0].removeprefix("hornbeam-arbiter: ") in log_file.read_text()


def test_pkill_hup_reloads_through_the_arbiter_and_the_workers_ride_it_out(start_arbiter):
    """`pkill -HUP hornbeam-` signals the arbiter and every worker at once: the arbiter reloads,
    the old workers keep their requests to the end and then drain as usual."""
    arbiter = start_arbiter("supervised:pid", workers=2)
    old_workers = set(arbiter.workers())
    load = Load(arbiter.url, clients=6)
    try:
        load.wait_for(50)
        for pid in [arbiter.process.pid, *old_workers]:
            os.kill(pid, signal.SIGHUP)
        arbiter.wait_for_log(r"generation 2: 2 worker\(s\) ready", timeout=60)
        load.wait_for(50)
        arbiter.wait_for_workers(2)
    finally:
        load.stop()
    assert load.errors == []
    assert set(load.statuses) == {200}
    assert arbiter.count(r"SIGHUP: ignored \(a worker takes no action") == 2
    assert not set(arbiter.workers()) & old_workers


def test_workers_die_with_a_killed_arbiter(start_arbiter):
    arbiter = start_arbiter("supervised:pid", workers=2)
    workers = arbiter.workers()
    arbiter.stop(signal.SIGKILL)
    deadline = time.monotonic() + 1.5
    while any(pid_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(pid_alive(pid) for pid in workers)


def port_is_free(port):
    """Nothing listens on the port (connections the server closed may linger in TIME_WAIT,
    which a server's SO_REUSEADDR ignores, and so does this probe)."""
    probe = socket.socket()
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def skip_unless_workers_can_become_nobody():
    if os.getuid() != 0:
        pytest.skip("switching users needs root")
    # A Python under /root (pyenv's) cannot be loaded by a worker that runs as nobody.
    for folder in Path(EMBEDDED_PYTHON).resolve().parents:
        if not folder.stat().st_mode & 0o001:
            pytest.skip(f"nobody cannot reach the embedded Python ({folder} is closed to others)")


def test_workers_running_as_another_user_die_with_a_killed_arbiter_under_load(start_arbiter):
    # Switching credentials clears the kernel's death signal: it must be set after the switch.
    skip_unless_workers_can_become_nobody()
    arbiter = start_arbiter("supervised:pid", workers=3, settings={"user": "nobody", "chdir": str(APPS)})
    workers = arbiter.workers()
    assert len(workers) == 3
    load = Load(arbiter.url, clients=4)
    try:
        load.wait_for(50)
        arbiter.stop(signal.SIGKILL)
        deadline = time.monotonic() + 2
        while (any(pid_alive(pid) for pid in workers) or not port_is_free(arbiter.port)) \
                and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        load.stop()
    assert not [pid for pid in workers if pid_alive(pid)]
    assert port_is_free(arbiter.port)


def test_a_worker_whose_death_signal_was_cleared_still_stops_when_its_arbiter_dies(start_arbiter):
    if os.getuid() != 0:
        pytest.skip("the app changes its credentials, which needs root")
    arbiter = start_arbiter("clears_death_signal:pid", workers=2)
    workers = arbiter.workers()
    assert requests.get(arbiter.url).status_code == 200
    arbiter.stop(signal.SIGKILL)
    deadline = time.monotonic() + 3  # one tick (1 s) to notice, then a graceful stop
    while any(pid_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not [pid for pid in workers if pid_alive(pid)], arbiter.log
    deadline = time.monotonic() + 5  # the lines come through a pipe
    while arbiter.log.count("the arbiter is gone") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert arbiter.log.count("the arbiter is gone (this worker's parent is now pid") == 2, arbiter.log


def test_socket_activation(start_arbiter):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    arbiter = start_arbiter("supervised:pid", workers=1, settings={"bind": ["127.0.0.1:1"]},
                            **systemd_activation(listener))
    listener.close()
    assert "socket activation: serving on the 1 socket(s) systemd passed" in arbiter.log
    assert requests.get(f"http://127.0.0.1:{port}/").status_code == 200


def test_a_second_arbiter_on_a_running_arbiters_pidfile_refuses_to_start(start_arbiter, tmp_path):
    pidfile = tmp_path / "hornbeam.pid"
    first = start_arbiter("supervised:pid", workers=1, settings={"pidfile": str(pidfile)})
    second = start_arbiter("supervised:pid", workers=1, expect_ready=False, settings={
        "pidfile": str(pidfile), "control_socket": "-"})
    assert second.process.wait(30) == 2
    second.stop()  # its whole log read
    assert f"the pidfile {pidfile} names a running arbiter (pid {first.process.pid})" in second.log
    assert int(pidfile.read_text()) == first.process.pid
    assert requests.get(first.url, timeout=10).status_code == 200
    assert first.stop() == 0
    # A pidfile whose pid is gone, or is no arbiter's (reused), is stale: the next one starts.
    pidfile.write_text(f"{os.getpid()}\n")
    third = start_arbiter("supervised:pid", workers=1, settings={"pidfile": str(pidfile)})
    assert int(pidfile.read_text()) == third.process.pid


def test_an_activated_unix_socket_keeps_its_file_after_the_arbiter_stops(start_arbiter, tmp_path):
    """systemd owns an activated socket: its file must outlive the service, which systemd
    restarts on the same socket (a removed file would leave clients nothing to connect to)."""
    path = tmp_path / "activated.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(16)
    arbiter = start_arbiter("supervised:pid", workers=1, settings={"bind": [f"unix:{tmp_path}/unused.sock"]},
                            **systemd_activation(listener))
    assert unix_get(str(path)).startswith(b"HTTP/1.1 200 OK")
    assert arbiter.stop() == 0
    assert path.exists()
    # The next start on the same socket, as systemd makes it, serves at the same path.
    arbiter = start_arbiter("supervised:pid", workers=1, settings={"bind": [f"unix:{tmp_path}/unused.sock"]},
                            **systemd_activation(listener))
    listener.close()
    assert unix_get(str(path)).startswith(b"HTTP/1.1 200 OK")


def unix_get(path):
    client = socket.socket(socket.AF_UNIX)
    client.connect(path)
    client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := client.recv(65536):
        data += chunk
    client.close()
    return data


def test_unix_socket_with_umask(start_arbiter, tmp_path):
    path = tmp_path / "hornbeam.sock"
    arbiter = start_arbiter("supervised:pid", workers=1, settings={"bind": [f"unix:{path}"], "umask": "0o077"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert unix_get(str(path)).startswith(b"HTTP/1.1 200 OK")
    assert arbiter.stop() == 0
    assert not path.exists()


def test_reuse_port_gives_each_worker_its_own_socket(start_arbiter):
    arbiter = start_arbiter("supervised:pid", workers=2, settings={"reuse_port": True})
    assert "(one SO_REUSEPORT socket per worker)" in arbiter.log
    pids = {int(requests.get(arbiter.url, headers={"Connection": "close"}).text) for _ in range(60)}
    assert pids == set(arbiter.workers())


def test_max_requests_recycles_a_worker_without_failing_a_request(start_arbiter):
    arbiter = start_arbiter("supervised:pid", workers=1, settings={"max_requests": 30})
    [first] = arbiter.workers()
    session = requests.Session()
    answered = [session.get(arbiter.url, timeout=10) for _ in range(40)]
    assert all(response.status_code == 200 for response in answered)
    arbiter.wait_for_log(r"reached max_requests \(30\): starting its replacement")
    arbiter.wait_for_log(rf"pid {first}, generation 1\) exited")
    later = {int(session.get(arbiter.url, timeout=10).text) for _ in range(5)}
    assert first not in later


def test_winch_stops_the_workers_and_hup_brings_them_back(start_arbiter):
    arbiter = start_arbiter("supervised:pid", workers=2)
    arbiter.send(signal.SIGWINCH)
    arbiter.wait_for_workers(0)
    assert arbiter.process.poll() is None
    arbiter.send(signal.SIGHUP)
    arbiter.wait_for_log(r"generation 2: 2 worker\(s\) ready")
    assert requests.get(arbiter.url).status_code == 200


def test_systemd_notify(start_arbiter, tmp_path):
    path = str(tmp_path / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(path)
    notify.settimeout(30)
    # WatchdogSec=0.2 in a unit: WATCHDOG=1 at least every 0.1 s while the loop turns.
    arbiter = start_arbiter("supervised:pid", workers=1,
                            env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})
    messages = []

    def wait_for(text):
        while not any(text in m for m in messages):
            messages.append(notify.recv(4096).decode())

    wait_for("READY=1")
    wait_for("STATUS=1 of 1 workers ready")
    started = time.monotonic()
    for _ in range(5):
        messages.clear()
        wait_for("WATCHDOG=1")
    assert time.monotonic() - started < 2
    [worker] = arbiter.workers()
    assert b"WATCHDOG_USEC" not in Path(f"/proc/{worker}/environ").read_bytes()
    arbiter.send(signal.SIGHUP)
    wait_for("RELOADING=1")
    messages.clear()
    wait_for("READY=1")
    arbiter.stop(signal.SIGTERM)
    wait_for("STOPPING=1")


def test_a_watchdog_meant_for_another_process_is_not_fed(start_arbiter, tmp_path):
    path = str(tmp_path / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(path)
    notify.settimeout(1)
    start_arbiter("supervised:pid", workers=1, env={
        "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": str(os.getpid())})
    messages = []
    with pytest.raises(socket.timeout):
        while True:
            messages.append(notify.recv(4096).decode())
    assert any("READY=1" in m for m in messages) and not any("WATCHDOG" in m for m in messages)


def test_workers_run_as_the_configured_user(start_arbiter):
    skip_unless_workers_can_become_nobody()
    arbiter = start_arbiter("supervised:pid", workers=1, settings={"user": "nobody", "chdir": str(APPS)})
    [worker] = arbiter.workers()
    uid_line = next(line for line in Path(f"/proc/{worker}/status").read_text().splitlines()
                    if line.startswith("Uid:"))
    assert uid_line.split()[1:] == ["65534"] * 4
    assert requests.get(arbiter.url).status_code == 200


def test_hup_opens_new_binds_and_closes_removed_ones(start_arbiter, tmp_path):
    arbiter = start_arbiter("supervised:pid", workers=1)
    path = tmp_path / "after-reload.sock"
    arbiter.reload_with(bind=[f"unix:{path}"])
    arbiter.wait_for_log(r"generation 2: 1 worker\(s\) ready")
    assert unix_get(str(path)).startswith(b"HTTP/1.1 200 OK")
    arbiter.wait_for_workers(1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", arbiter.port), timeout=1).close()
        except ConnectionRefusedError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the removed address still accepts connections")


def test_usr1_while_a_worker_boots_does_not_kill_it(start_arbiter, tmp_path):
    # Log rotation (USR1) reaches booting workers too; before their server listens, they only
    # remember it, and reopen the files once it does.
    (tmp_path / "slow_boot.py").write_text(
        "import time\ntime.sleep(1.5)\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'booted']\n")
    arbiter = start_arbiter("slow_boot:app", workers=1, settings={"pythonpath": [str(tmp_path)]})
    arbiter.send(signal.SIGTTIN)
    arbiter.wait_for_log(r"spawned worker 1 ")
    time.sleep(0.5)  # inside its 1.5 s import
    arbiter.send(signal.SIGUSR1)
    arbiter.wait_for_log(r"worker 1 \(pid \d+, generation 1\) ready")
    assert "failed to boot" not in arbiter.log and "killed by SIGUSR1" not in arbiter.log
    assert requests.get(arbiter.url).text == "booted"
