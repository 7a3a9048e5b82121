"""wsgiref.validate.validator sees no deviation from PEP 3333 in any of these exchanges."""

import os

import pytest
import requests


def post_chunked(url):
    return requests.post(url, data=iter([b"first line\n", b"second\n", b"x" * 100000]))


EXCHANGES = {
    "environ_json": lambda url: requests.post(url + "/p%20q?x=1", data=b"body", headers={"X-A": "b"}),
    "echo_body": lambda url: requests.post(url, data=b"z" * 200000),
    "hello": lambda url: requests.head(url),
    "uses_write": lambda url: requests.get(url),
    "upload_digest": post_chunked,
    "input_lines": post_chunked,
    "status_from_path": lambda url: requests.get(url + "/404"),
}


@pytest.mark.parametrize("app", sorted(EXCHANGES))
def test_validator_is_satisfied(start_worker, app):
    worker = start_worker("validated:" + app)
    response = EXCHANGES[app](worker.url)
    assert response.status_code in (200, 404), worker.log
    assert "Traceback" not in worker.log and "Warning" not in worker.log, worker.log


def test_validator_with_file_wrapper_and_streaming(start_worker, tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(50000))
    worker = start_worker("validated:file_wrapper")
    assert requests.get(worker.url + "/?" + str(path)).content == path.read_bytes()
    marker = tmp_path / "go"
    marker.write_text("go")
    worker2 = start_worker("validated:stream_until_file")
    assert requests.get(worker2.url + "/?" + str(marker)).content == b"data: first\n\ndata: second\n\n"
    assert "Traceback" not in worker.log + worker2.log, worker.log + worker2.log
