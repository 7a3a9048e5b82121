"""The arbiter's control socket and hornbeamctl: status, and the commands that do what the
signals do (reload, scale, kill, reopen-logs, stop), and `top` in a real terminal (tmux)."""

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from conftest import SOURCE

CTL = os.environ.get("HB_TEST_CTL_BIN", str(SOURCE / "build" / "tools" / "hornbeamctl"))


def ctl(*args, check=True):
    result = subprocess.run([CTL, *args], capture_output=True, text=True, timeout=30)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def start_controlled(start_arbiter, tmp_path, app="supervised:pid", **settings):
    socket_path = tmp_path / "hornbeam.ctl"
    arbiter = start_arbiter(app, workers=2, settings={"contexts": 2, "control_socket": str(socket_path), **settings})
    arbiter.wait_for_log("control socket " + re.escape(str(socket_path)))
    return arbiter, str(socket_path)


def test_status_shows_each_worker_and_its_running_request(start_arbiter, tmp_path):
    arbiter, path = start_controlled(start_arbiter, tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(requests.get, arbiter.url + "/?sleep=2", timeout=30)
        deadline = time.monotonic() + 10  # until a context runs it for a while
        while True:
            status = json.loads(ctl("-s", path, "status", "--json").stdout)
            if any((w["oldest_request_s"] or 0) >= 0.3 for w in status["workers"]) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        table = ctl("-c", str(arbiter.config_path), "status").stdout  # the socket found from the config
        assert slow.result().status_code == 200
    assert status["arbiter"]["generation"] == 1 and status["arbiter"]["workers_target"] == 2
    workers = status["workers"]
    assert sorted(w["pid"] for w in workers) == sorted(arbiter.workers())
    assert all(w["state"] == "ready" and w["contexts"] == 2 and w["rss_bytes"] > 0 for w in workers)
    [busy] = [w for w in workers if w["busy_contexts"] == 1]
    assert busy["oldest_request_s"] >= 0.3
    assert "SLOT  PID" in table and all(str(pid) in table for pid in arbiter.workers())


def test_commands_do_what_their_signals_do(start_arbiter, tmp_path):
    arbiter, path = start_controlled(start_arbiter, tmp_path)
    assert ctl("-s", path, "scale", "3").stdout == "3 worker(s)\n"
    arbiter.wait_for_workers(3)
    assert ctl("-s", path, "reopen-logs").stdout == "log files reopened\n"
    arbiter.wait_for_log(r"SIGUSR1: log files reopened")
    ctl("-s", path, "reload")  # the file's `workers: 2` again, as with HUP
    arbiter.wait_for_log(r"generation 2: 2 worker\(s\) ready")
    # The segment has 64 slots, two generations' worth of 32 (a reload runs both at once).
    too_many = ctl("-s", path, "scale", "33", check=False)
    assert (too_many.returncode, too_many.stderr) == (1, "hornbeamctl: scale: cannot run 33 workers: this "
                                                      "arbiter's shared-memory segment has slots for 32 (two "
                                                      "generations' worth, for reloads); restart the arbiter to "
                                                      "go past that\n")
    refused = ctl("-s", path, "kill", "99", check=False)
    assert (refused.returncode, refused.stderr) == (1, "hornbeamctl: no serving worker in slot 99\n")
    assert ctl("-s", path, "bogus", check=False).returncode == 1
    workers = json.loads(ctl("-s", path, "status", "--json").stdout)["workers"]
    slot = next(w["slot"] for w in workers if w["state"] == "ready")  # not one of generation 1, stopping
    ctl("-s", path, "kill", str(slot))
    arbiter.wait_for_log(r"is timed out on request \(control socket\): replacing it")
    arbiter.wait_for_log(r"worker timed out: Python tracebacks of its threads follow")
    arbiter.wait_for_log(r"generation 2\) exited with code 1")
    arbiter.wait_for_workers(2)
    assert ctl("-s", path, "stop", "--graceful").stdout == "stopping gracefully\n"
    assert arbiter.process.wait(30) == 0
    assert not Path(path).exists()  # removed with the arbiter
    gone = ctl("-s", path, "status", check=False)
    assert gone.returncode == 2 and "cannot reach the arbiter" in gone.stderr


def test_the_socket_defaults_to_beside_the_pidfile(start_arbiter, tmp_path):
    (tmp_path / "run").mkdir()
    arbiter = start_arbiter("supervised:pid", workers=1, settings={"pidfile": str(tmp_path / "run" / "hb.pid")})
    arbiter.wait_for_log("control socket " + re.escape(str(tmp_path / "run" / "hornbeam.ctl")))
    assert json.loads(ctl("-c", str(arbiter.config_path), "status", "--json").stdout)["arbiter"]["pid"] == \
        arbiter.process.pid


@pytest.mark.parametrize("quit_key", ["q", "C-c"])
def test_top_refreshes_in_a_terminal_and_quits(start_arbiter, tmp_path, quit_key):
    if not shutil.which("tmux"):
        pytest.skip("tmux is not installed (scripts/ensure-packages installs it)")
    arbiter, path = start_controlled(start_arbiter, tmp_path)
    session = f"hb-top-{os.getpid()}-{quit_key}"
    tmux = ["tmux", "-L", session]
    subprocess.run([*tmux, "new-session", "-d", "-s", session, "-x", "140", "-y", "20", f"{CTL} -s {path} top"],
                   check=True)
    try:
        deadline = time.monotonic() + 10
        screen = ""
        while time.monotonic() < deadline:
            screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", session], capture_output=True,
                                    text=True).stdout
            if all(str(pid) in screen for pid in arbiter.workers()):
                break
            time.sleep(0.1)
        assert "hornbeam top (q to quit)" in screen and "SLOT  PID" in screen, screen
        assert all(str(pid) in screen for pid in arbiter.workers()), screen
        requests.get(arbiter.url)
        deadline = time.monotonic() + 10  # a later refresh shows it
        while not re.search(r"ready\s+1\s", screen) and time.monotonic() < deadline:
            time.sleep(0.1)
            screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", session], capture_output=True,
                                    text=True).stdout
        assert re.search(r"ready\s+1\s", screen), screen
        subprocess.run([*tmux, "send-keys", "-t", session, quit_key], check=True)
        deadline = time.monotonic() + 5
        while subprocess.run([*tmux, "has-session", "-t", session], capture_output=True).returncode == 0:
            assert time.monotonic() < deadline, "top did not quit"
            time.sleep(0.1)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def test_a_usr2_upgrade_hands_the_socket_and_the_metrics_to_the_new_arbiter(start_arbiter, tmp_path):
    pidfile = tmp_path / "hornbeam.pid"
    arbiter = start_arbiter("supervised:pid", workers=1, settings={
        "pidfile": str(pidfile), "metrics_bind": "127.0.0.1:0"})
    path = str(tmp_path / "hornbeam.ctl")
    arbiter.wait_for_log(r"metrics on 127\.0\.0\.1:\d+")
    metrics = "http://" + re.search(r"metrics on (127\.0\.0\.1:\d+)", arbiter.log).group(1)
    # The configured port, for the new arbiter to take too.
    arbiter.settings["metrics_bind"] = metrics.removeprefix("http://")
    arbiter.write_config()
    arbiter.send(signal.SIGUSR2)
    arbiter.wait_for_log(r"generation 1: 1 worker\(s\) ready", count=2, timeout=60)
    new_pid = int(pidfile.read_text())
    try:
        assert arbiter.stop(signal.SIGTERM) == 0  # the old one goes
        assert json.loads(ctl("-s", path, "status", "--json").stdout)["arbiter"]["pid"] == new_pid
        assert requests.get(metrics + "/readyz").status_code == 200
    finally:
        os.kill(new_pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{new_pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.mark.parametrize("how", ["killed", "rolled back with TERM"])
def test_a_usr2_upgrade_that_fails_or_is_rolled_back_leaves_every_unix_path_to_the_old_arbiter(
        start_arbiter, tmp_path, how):
    pidfile = tmp_path / "hornbeam.pid"
    app_path, metrics_path = tmp_path / "app.sock", tmp_path / "metrics.sock"
    arbiter = start_arbiter("supervised:pid", workers=1, settings={
        "bind": [f"unix:{app_path}"], "pidfile": str(pidfile), "metrics_bind": f"unix:{metrics_path}"})
    control_path = str(tmp_path / "hornbeam.ctl")
    old_pid = arbiter.process.pid

    def status_over(path, target="/"):
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(5)
            client.connect(str(path))
            client.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            return int(client.recv(4096).split(b" ")[1])

    arbiter.send(signal.SIGUSR2)
    arbiter.wait_for_log(r"generation 1: 1 worker\(s\) ready", count=2, timeout=60)
    new_pid = int(pidfile.read_text())
    assert json.loads(ctl("-s", control_path, "status", "--json").stdout)["arbiter"]["pid"] == new_pid
    os.kill(new_pid, signal.SIGKILL if how == "killed" else signal.SIGTERM)
    arbiter.wait_for_log(r"the upgraded arbiter \(pid \d+\) (was killed by SIGKILL|exited with code 0)")
    arbiter.wait_for_log(r"serving the control socket again")
    arbiter.wait_for_log(r"serving the metrics listener again")
    # Every path the old arbiter serves is its own again: the app's socket (which the new one
    # must not remove as it stops), the control socket and the metrics listener (which it had
    # taken, and left dead or removed).
    assert status_over(app_path) == 200
    assert json.loads(ctl("-s", control_path, "status", "--json").stdout)["arbiter"]["pid"] == old_pid
    assert status_over(metrics_path, "/readyz") == 200
    assert int(pidfile.read_text()) == old_pid
    assert arbiter.stop(signal.SIGTERM) == 0
    assert not any(path.exists() for path in (app_path, metrics_path, Path(control_path)))
