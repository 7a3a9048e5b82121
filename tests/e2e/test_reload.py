"""`reload`: a change to the app's code restarts the workers, as SIGHUP does; a save that
breaks the import keeps the old code serving. The apps are written into the test's own
directory, and changed there."""

import re
import time

import pytest
import requests

WSGI_APP = '''
VERSION = "{version}"

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [VERSION.encode()]
'''

ASGI_APP = '''
VERSION = "{version}"

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({{"type": "lifespan.startup.complete"}})
            else:
                await send({{"type": "lifespan.shutdown.complete"}})
                return
    await send({{"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]}})
    await send({{"type": "http.response.body", "body": VERSION.encode()}})
'''

# A module the app imports from a package, for the tests that change something else than app.py.
IMPORTING_APP = '''
import os

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
'''


@pytest.fixture
def code(tmp_path):
    directory = tmp_path / "code"
    directory.mkdir()
    return directory


def start_reloading(start_arbiter, code, source, workers=1, settings=None, **kwargs):
    (code / "app.py").write_text(source)
    return start_arbiter("app:app", workers=workers, settings={
        "reload": True, "chdir": str(code), "pythonpath": [str(code)], **(settings or {})},
        **kwargs)


def wait_for_body(arbiter, expected, timeout):
    """The body every request gets from `timeout` on; returns how long it took."""
    start = time.monotonic()
    while True:
        try:
            body = requests.get(arbiter.url, timeout=5).text
        except requests.ConnectionError:
            body = None
        if body == expected:
            return time.monotonic() - start
        assert time.monotonic() - start < timeout, f"still {body!r} after {timeout}s:\n{arbiter.log}"
        time.sleep(0.02)


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_changed_module_is_served_by_the_new_code(start_arbiter, code, kind):
    source = WSGI_APP if kind == "wsgi" else ASGI_APP
    arbiter = start_reloading(start_arbiter, code, source.format(version="v1"), workers=2,
                              settings={"worker_class": kind})
    assert requests.get(arbiter.url, timeout=5).text == "v1"
    assert arbiter.count(r"reload: watching \d+ director") == 1
    (code / "app.py").write_text(source.format(version="v2"))
    wait_for_body(arbiter, "v2", timeout=2)
    arbiter.wait_for_log(r"generation 2: 2 worker\(s\) ready")
    assert arbiter.count(r"reload: \S*/code/app\.py changed; starting generation 2") == 1, \
        arbiter.log
    arbiter.wait_for_workers(2)


def test_a_broken_save_is_logged_once_and_the_old_code_keeps_serving(start_arbiter, code):
    arbiter = start_reloading(start_arbiter, code, WSGI_APP.format(version="v1"), workers=2)
    (code / "app.py").write_text("def app(:\n")
    arbiter.wait_for_log(r"reload abandoned: generation 2 cannot boot; generation 1 keeps serving")
    assert arbiter.count(r"SyntaxError") == 2, arbiter.log  # the worker's traceback, the arbiter's line
    assert arbiter.count(r"spawned worker \d+ \(pid \d+, generation 2\)") == 1, "one worker tried"
    for _ in range(10):
        assert requests.get(arbiter.url, timeout=5).text == "v1"
    (code / "app.py").write_text(WSGI_APP.format(version="v3"))
    wait_for_body(arbiter, "v3", timeout=10)
    arbiter.wait_for_log(r"generation 3: 2 worker\(s\) ready")


def test_an_app_that_cannot_boot_at_start_waits_for_the_fix(start_arbiter, code):
    arbiter = start_reloading(start_arbiter, code, "import no_such_module_here\n",
                              expect_ready=False)
    arbiter.wait_for_log(r"waiting for a change to the code \(reload\)", timeout=60)
    assert arbiter.process.poll() is None
    (code / "app.py").write_text(WSGI_APP.format(version="fixed"))
    arbiter.wait_for_log(r"generation 2: 1 worker\(s\) ready")
    arbiter.port = arbiter.port or int(
        re.search(r"listening on 127\.0\.0\.1:(\d+)", arbiter.log).group(1))
    assert requests.get(arbiter.url, timeout=5).text == "fixed"


def test_a_burst_of_writes_reloads_once(start_arbiter, code):
    arbiter = start_reloading(start_arbiter, code, WSGI_APP.format(version="v1"),
                              settings={"reload_debounce": "500ms"})
    for i in range(50):  # 50 saves within about 250 ms: quieter than the debounce in between
        (code / "app.py").write_text(WSGI_APP.format(version=f"burst{i}"))
        time.sleep(0.005)
    wait_for_body(arbiter, "burst49", timeout=10)
    arbiter.wait_for_log(r"generation 2: 1 worker\(s\) ready")
    # A later, unrelated save shows the watch still works, and that nothing else was queued.
    (code / "app.py").write_text(WSGI_APP.format(version="after"))
    wait_for_body(arbiter, "after", timeout=10)
    assert arbiter.count(r"reload: .* changed") == 2, arbiter.log
    assert arbiter.count(r"starting generation 3") == 1


def test_reload_paths_and_new_subdirectories_are_watched(start_arbiter, code, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    arbiter = start_reloading(start_arbiter, code, IMPORTING_APP, settings={
        "reload_paths": [str(library)], "pythonpath": [str(code), str(library)]})
    assert arbiter.count(r"reload: watching 1 directory under \S*/library for \*\.py") == 1
    (code / "unwatched.py").write_text("x = 1\n")  # not under reload_paths any more
    (library / "newpkg" / "deeper").mkdir(parents=True)
    (library / "newpkg" / "deeper" / "mod.py").write_text("x = 1\n")
    arbiter.wait_for_log(r"reload: \S*/library/newpkg/deeper/mod\.py changed")
    arbiter.wait_for_log(r"generation 2: 1 worker\(s\) ready")
    (library / "newpkg" / "deeper" / "mod.py").write_text("x = 2\n")
    arbiter.wait_for_log(r"generation 3: 1 worker\(s\) ready")
    assert "unwatched.py" not in arbiter.log


def test_include_and_exclude_patterns_choose_the_files(start_arbiter, code):
    (code / "templates").mkdir()
    (code / "generated").mkdir()
    arbiter = start_reloading(start_arbiter, code, IMPORTING_APP, settings={
        "reload_include": ["*.py", "*.html"], "reload_exclude": ["generated", ".*"]})
    (code / "notes.txt").write_text("not included\n")
    (code / "generated" / "schema.py").write_text("x = 1  # excluded by its directory\n")
    (code / ".scratch.py").write_text("x = 1  # excluded by its name\n")
    (code / "templates" / "page.html").write_text("<p>included</p>\n")
    arbiter.wait_for_log(r"generation 2: 1 worker\(s\) ready")
    assert arbiter.count(r"reload: \S*/code/templates/page\.html changed") == 1, arbiter.log
    # The config file is watched whatever the patterns.
    arbiter.reload_with()  # rewrites it (and sends HUP: one more generation)
    arbiter.wait_for_log(r"reload: \S*/hornbeam\.yaml changed")
    for name in ("notes.txt", "schema.py", ".scratch.py"):
        assert name not in arbiter.log
