"""wsgi.file_wrapper: regular files go out with sendfile(2), other file-likes are iterated."""

import os
import time

import pytest
import requests


@pytest.fixture
def blob(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(1_500_000))
    return path


def fetch(worker, blob, tmp_path, method="GET", **options):
    """The response, and what the file-like object saw once the app's close() has run (the
    client can have every byte a moment before the context gets to close())."""
    marker = tmp_path / "marker"
    params = {"path": str(blob), "marker": str(marker), **options}
    response = requests.request(method, worker.url, params=params)
    deadline = time.monotonic() + (0 if "bytesio" in options else 10)  # BytesIO leaves no trace
    while time.monotonic() < deadline and "closed" not in (marker.read_text() if marker.exists() else ""):
        time.sleep(0.01)
    return response, (marker.read_text().split() if marker.exists() else [])


def test_regular_file_is_sent_without_reading_it_in_python(start_worker, blob, tmp_path):
    worker = start_worker("echo:file_wrapper_spy")
    response, trace = fetch(worker, blob, tmp_path)
    assert response.content == blob.read_bytes()
    assert response.headers["Content-Length"] == str(blob.stat().st_size)
    assert trace == ["closed"]  # close() was called, read() never was


def test_sending_starts_at_the_files_position(start_worker, blob, tmp_path):
    worker = start_worker("echo:file_wrapper_spy")
    response, trace = fetch(worker, blob, tmp_path, seek=1000)
    assert response.content == blob.read_bytes()[1000:]
    assert trace == ["closed"]


def test_declared_content_length_bounds_the_file(start_worker, blob, tmp_path):
    worker = start_worker("echo:file_wrapper_spy")
    response, _ = fetch(worker, blob, tmp_path, length=4096)
    assert response.content == blob.read_bytes()[:4096]


def test_non_file_objects_are_iterated(start_worker, blob, tmp_path):
    worker = start_worker("echo:file_wrapper_spy")
    response, _ = fetch(worker, blob, tmp_path, bytesio=1)
    assert response.content == blob.read_bytes()
    assert response.headers.get("Transfer-Encoding") == "chunked"


def test_head_sends_no_file(start_worker, blob, tmp_path):
    worker = start_worker("echo:file_wrapper_spy")
    response, trace = fetch(worker, blob, tmp_path, method="HEAD")
    assert response.status_code == 200 and response.content == b""
    assert trace == ["closed"]


def test_keep_alive_after_a_file(start_worker, blob, tmp_path):
    worker = start_worker("echo:file_wrapper_spy")
    with requests.Session() as session:
        for _ in range(3):
            response = session.get(worker.url, params={"path": str(blob), "marker": str(tmp_path / "m")})
            assert response.content == blob.read_bytes()
