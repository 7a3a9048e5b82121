"""The Flask and Django examples (Debian's python3-flask and python3-django) end-to-end."""

import pytest
import requests

from conftest import SOURCE

EXAMPLES = {
    "flask": SOURCE / "examples" / "flask" / "hornbeam.yaml",
    "django": SOURCE / "examples" / "django" / "hornbeam.yaml",
}


@pytest.fixture(params=sorted(EXAMPLES))
def example(request, start_worker):
    return request.param, start_worker(None, config=EXAMPLES[request.param])


def test_index(example):
    name, worker = example
    response = requests.get(worker.url + "/")
    assert response.status_code == 200
    assert response.text == f"Hello from {name.capitalize()} on hornbeam!\n"


def test_form_post(example):
    _, worker = example
    response = requests.post(worker.url + "/form", data={"name": "Ada", "lang": "en"})
    assert response.text == "Hello, Ada! (2 fields)\n"


def test_json_with_path_and_query_parameters(example):
    _, worker = example
    response = requests.get(worker.url + "/api/items/42", params=[("tag", "a"), ("tag", "b")])
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"id": 42, "name": "item 42", "tags": ["a", "b"]}


def test_streamed_response_arrives_in_pieces(example):
    _, worker = example
    with requests.get(worker.url + "/stream", params={"count": 3}, stream=True) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers.get("Transfer-Encoding") == "chunked"
        events = [line for line in response.iter_lines() if line]
    assert events == [b"data: event 0", b"data: event 1", b"data: event 2"]


def test_file_through_file_wrapper(example):
    name, worker = example
    expected = (SOURCE / "examples" / name / "static" / "logo.txt").read_bytes()
    response = requests.get(worker.url + "/file")
    assert response.status_code == 200
    assert response.content == expected


def test_not_found_is_the_frameworks_404(example):
    _, worker = example
    assert requests.get(worker.url + "/no/such/page").status_code == 404




def test_flask_json_echo(start_worker):
    worker = start_worker(None, config=EXAMPLES["flask"])
    response = requests.post(worker.url + "/api/echo", json={"a": [1, 2], "b": None})
    assert response.json() == {"received": {"a": [1, 2], "b": None}, "content_type": "application/json"}


def test_flask_hit_counter_is_shared_by_the_arbiters_workers(start_arbiter):
    arbiter = start_arbiter("app:app", workers=2, settings={"pythonpath": [str(SOURCE / "examples" / "flask")]})
    answers = []
    while len({answer["worker"] for answer in answers}) < 2 and len(answers) < 400:
        answers.append(requests.get(arbiter.url + "/hits").json())
    assert len({answer["worker"] for answer in answers}) == 2
    assert [answer["hits"] for answer in answers] == list(range(1, len(answers) + 1))
