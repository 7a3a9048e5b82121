"""The I/O thread gives up its wake-up preemption (SCHED_BATCH) only while requests wait for a
busy context, and is SCHED_OTHER again once a context is idle or waits for it (a request body):
docs/worker.md, "The I/O thread's scheduling"."""

import socket
import threading
import time

import requests

SCHED_OTHER, SCHED_BATCH = 0, 3


def io_thread_policy(worker):
    """The scheduling policy of the worker's I/O thread, its main thread (field 41 of stat)."""
    pid = worker.process.pid
    with open(f"/proc/{pid}/task/{pid}/stat") as stat:
        text = stat.read()
    return int(text[text.rindex(")") + 2:].split()[41 - 3])


def wait_for_policy(worker, policy, timeout=5):
    deadline = time.monotonic() + timeout
    while io_thread_policy(worker) != policy:
        assert time.monotonic() < deadline, f"the I/O thread's policy stayed {io_thread_policy(worker)}"
        time.sleep(0.005)


def wait_for_file(path, timeout=10):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def get_in_background(url, answers):
    thread = threading.Thread(target=lambda: answers.append(requests.get(url, timeout=30)))
    thread.start()
    return thread


def send_partial_upload(worker, path, declared, sent):
    """A body that streams (the worker runs with a 1 KiB body_buffer_threshold), half sent."""
    sock = socket.create_connection(("127.0.0.1", worker.port), timeout=30)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {declared}\r\n\r\n".encode() + b"x" * sent)
    return sock


def test_deferred_while_a_request_waits_for_the_busy_context_and_not_after(start_worker, tmp_path):
    worker = start_worker("echo:marks_then_sleeps", "--contexts", "1")
    assert io_thread_policy(worker) == SCHED_OTHER
    answers = []
    running = get_in_background(f"{worker.url}/?{tmp_path / 'running'}&1.5", answers)
    wait_for_file(tmp_path / "running")
    time.sleep(0.1)
    assert io_thread_policy(worker) == SCHED_OTHER  # busy, but nothing waits for it
    waiting = get_in_background(f"{worker.url}/?{tmp_path / 'waiting'}&0", answers)
    wait_for_policy(worker, SCHED_BATCH)
    assert not (tmp_path / "waiting").exists()  # deferred while the request still waited
    running.join()
    waiting.join()
    assert [answer.text for answer in answers] == ["slept", "slept"]
    wait_for_policy(worker, SCHED_OTHER)  # the context went idle


def test_restored_when_the_busy_context_starts_waiting_for_a_body(start_worker):
    worker = start_worker("echo:sleeps_then_reads_body", "--contexts", "1", "--limits-body-buffer-threshold", "1KiB")
    upload = send_partial_upload(worker, "/?1", declared=4096, sent=100)
    answers = []
    queued = get_in_background(worker.url + "/?0", answers)
    wait_for_policy(worker, SCHED_BATCH)  # the app sleeps: the GET waits for the context
    wait_for_policy(worker, SCHED_OTHER)  # the app waits for the rest of the body
    upload.sendall(b"y" * 3996)
    assert upload.recv(4096).endswith(b"\r\n\r\n4096")
    upload.close()
    queued.join()
    assert answers[0].text == "0"


def test_not_deferred_while_the_busy_context_waits_for_a_body(start_worker, tmp_path):
    worker = start_worker("echo:sleeps_then_reads_body", "--contexts", "1", "--limits-body-buffer-threshold", "1KiB")
    upload = send_partial_upload(worker, f"/?0&{tmp_path / 'reading'}", declared=4096, sent=100)
    # The app reads right after the marker; a GET queued before it waits for the body would
    # rightly defer the I/O thread until then.
    wait_for_file(tmp_path / "reading")
    time.sleep(0.05)
    answers = []
    queued = get_in_background(worker.url + "/?0", answers)
    # The GET is queued within milliseconds; the I/O thread must not defer meanwhile, since
    # the context waits for it.
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        assert io_thread_policy(worker) == SCHED_OTHER
        time.sleep(0.005)
    upload.sendall(b"y" * 3996)
    assert upload.recv(4096).endswith(b"\r\n\r\n4096")
    upload.close()
    queued.join()
    assert answers[0].text == "0"
