"""What only the Redis backends of the shared state do: keys other clients can read, the
timeout and StateUnavailable when Redis is down or frozen (the worker serving the rest
meanwhile, and one log line per loss and recovery), Redis's out-of-memory as StateFull, a
Redis Cluster's redirections while a slot migrates, and a local Redis through its Unix socket.
Real redis-server processes on loopback.
(What every backend does, test_shared_state.py runs on each.)"""

import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from redis_servers import REDIS_CLI, RedisCluster, RedisServer, free_port, local_redis_server
from test_shared_state import EXPECTED_API


def call(url, path, **params):
    response = requests.get(url + path, params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def timed(url, op, key="k"):
    return call(url, "/timed", op=op, key=key)


def test_keys_under_the_prefix_are_what_any_redis_client_reads_and_writes(start_worker, redis_server):
    worker = start_worker("shared_state_app:app", "--shared-state-backend", redis_server.url,
                          "--shared-state-prefix", "interop:")
    call(worker.url, "/set", key="greeting", value="héllo")
    call(worker.url, "/incr", key="hits", n=3)
    assert redis_server.cli("HGETALL", "interop:greeting").splitlines() == ["type", "str", "value", "héllo"]
    # An int is a plain Redis string: another program's INCR and GET work on the app's counter.
    assert redis_server.cli("TYPE", "interop:hits") == "string"
    assert redis_server.cli("GET", "interop:hits") == "3"
    assert redis_server.cli("INCRBY", "interop:hits", "2") == "5"
    call(worker.url, "/incr", key="hits")
    assert call(worker.url, "/get", key="hits") == {"value": 6}
    # Written by another program, read by the app.
    redis_server.cli("HSET", "interop:from-go", "type", "float", "value", "2.5")
    assert call(worker.url, "/get", key="from-go") == {"value": 2.5}
    redis_server.cli("SET", "interop:from-sh", "-7")
    assert call(worker.url, "/get", key="from-sh") == {"value": -7}
    # A counter an older hornbeam kept as a hash {type int, value} still counts.
    redis_server.cli("HSET", "interop:old-hits", "type", "int", "value", "40")
    call(worker.url, "/incr", key="old-hits")
    assert call(worker.url, "/get", key="old-hits") == {"value": 41}
    # A str where an int was replaces it whole, and is no counter.
    call(worker.url, "/set", key="hits", value="many")
    assert redis_server.cli("HGETALL", "interop:hits").splitlines() == ["type", "str", "value", "many"]
    assert timed(worker.url, "incr", key="hits")["result"][:2] == ["raised", "TypeError"]
    # The prefix is the namespace: keys outside it are not the app's.
    redis_server.cli("SET", "interop-not-ours", "x")
    assert timed(worker.url, "keys", key="")["result"] == \
        ["ok", ["from-go", "from-sh", "greeting", "hits", "old-hits"]]
    # A key that is not a hornbeam value is an error that names it, not a crash.
    redis_server.cli("SET", "interop:plain", "x")
    assert timed(worker.url, "get", key="plain")["result"][:2] == ["raised", "RuntimeError"]
    assert timed(worker.url, "incr", key="plain")["result"][:2] == ["raised", "TypeError"]
    redis_server.cli("RPUSH", "interop:list", "x")
    assert timed(worker.url, "get", key="list")["result"][:2] == ["raised", "RuntimeError"]


def test_a_local_redis_through_its_unix_socket_is_the_same_state(start_arbiter):
    with local_redis_server() as server:  # its own: the test stops and restarts it
        pair = start_arbiter("shared_state_app:app", workers=2, settings={
            "contexts": 2, "shared_state": {"backend": f"{server.url}?db=3", "prefix": "local:",
                                            "timeout": "500ms"}})
        assert call(pair.url, "/checks") == EXPECTED_API
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: call(pair.url, "/incr", key="hits", n=250), range(8)))
        # In the database the URL names, where any client of that socket finds it.
        assert server.cli("-n", "3", "GET", "local:hits") == "2000"
        assert server.cli("-n", "0", "EXISTS", "local:hits") == "0"
        assert timed(pair.url, "info")["result"][1]["backend"] == "redis"
        server.stop()
        answer = timed(pair.url, "incr", key="hits")
        assert answer["result"][:2] == ["raised", "StateUnavailable"] and answer["elapsed"] < 1, answer
        assert call(pair.url, "/hello") == {"hello": "no state used"}
        pair.wait_for_log(f"shared state: Redis at {server.socket} is unavailable")
        server.start()  # empty again: no persistence
        deadline = time.monotonic() + 15  # each worker retries within its 5 s backoff
        done = 0
        while done < 20:
            assert time.monotonic() < deadline, pair.log
            done = done + 1 if timed(pair.url, "incr", key="again")["result"][0] == "ok" else 0
        assert int(server.cli("-n", "3", "GET", "local:again")) >= 20


def test_redis_down_at_boot_the_worker_serves_and_the_state_comes_with_redis(start_worker, tmp_path):
    port = free_port()
    worker = start_worker("shared_state_app:app", "--shared-state-backend", f"redis://127.0.0.1:{port}/0")
    assert call(worker.url, "/hello") == {"hello": "no state used"}
    for _ in range(5):
        answer = timed(worker.url, "incr")
        assert answer["result"][:2] == ["raised", "StateUnavailable"] and answer["elapsed"] < 0.5, answer
    assert "Connection refused" in answer["result"][2]
    server = RedisServer(tmp_path / "redis", port)
    try:
        deadline = time.monotonic() + 10  # the reconnection backoff is 5 s at most
        while timed(worker.url, "incr")["result"][0] != "ok":
            assert time.monotonic() < deadline, worker.log
            time.sleep(0.1)
        assert timed(worker.url, "incr")["result"] == ["ok", 2]
        # One line for the loss and one for the recovery, not one per failed call.
        worker.wait_for_log(f"shared state: Redis at 127.0.0.1:{port} is back")
        assert worker.log.count(f"shared state: Redis at 127.0.0.1:{port} is unavailable") == 1, worker.log
        assert worker.log.count(f"shared state: Redis at 127.0.0.1:{port} is back") == 1, worker.log
    finally:
        server.stop()


def test_a_frozen_redis_raises_state_unavailable_within_the_timeout_and_blocks_nothing_else(start_worker, tmp_path):
    server = RedisServer(tmp_path / "redis")
    try:
        worker = start_worker("shared_state_app:app", "--contexts", "2", "--shared-state-backend", server.url,
                              "--shared-state-timeout", "700ms")
        assert timed(worker.url, "incr")["result"] == ["ok", 1]
        server.pause()
        waiting = {}
        blocked = threading.Thread(target=lambda: waiting.update(timed(worker.url, "incr")))
        blocked.start()
        time.sleep(0.2)
        # The other context runs Python meanwhile: the waiting call does not hold the GIL.
        started = time.monotonic()
        assert call(worker.url, "/hello") == {"hello": "no state used"}
        assert time.monotonic() - started < 0.3
        blocked.join(10)
        assert waiting["result"][:2] == ["raised", "StateUnavailable"], waiting
        assert 0.65 <= waiting["elapsed"] < 1.5, waiting
        for _ in range(3):  # each fails within its timeout too (a new connection each time)
            answer = timed(worker.url, "get")
            assert answer["result"][:2] == ["raised", "StateUnavailable"] and answer["elapsed"] < 1.5
        server.resume()
        deadline = time.monotonic() + 10
        while (answer := timed(worker.url, "get"))["result"][0] != "ok":
            assert time.monotonic() < deadline, worker.log
            time.sleep(0.1)
        # The frozen calls may have run once Redis thawed: "may or may not have taken effect".
        assert answer["result"][1] in (1, 2)
        worker.wait_for_log(f"Redis at 127.0.0.1:{server.port} is back")
        assert worker.log.count(f"{server.port} is unavailable (no reply within shared_state.timeout)") == 1, \
            worker.log
        assert worker.log.count(f"Redis at 127.0.0.1:{server.port} is back") == 1, worker.log
    finally:
        server.stop()


def test_redis_out_of_memory_is_state_full_and_changes_nothing(start_worker, tmp_path):
    server = RedisServer(tmp_path / "redis")
    try:
        used = int(next(line.split(":")[1] for line in server.cli("INFO", "memory").splitlines()
                        if line.startswith("used_memory:")))
        server.cli("CONFIG", "SET", "maxmemory", str(used + 400_000))
        server.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")
        worker = start_worker("shared_state_app:app", "--shared-state-backend", server.url)
        body = call(worker.url, "/fill", size=10_000)
        assert body["stored"] > 5 and body["keep"] == "kept" and body["last"] is None
        assert body["message"].startswith("Redis is out of memory (maxmemory)"), body
        assert body["needed"] is None and body["capacity"] is None
        assert worker.process.poll() is None
    finally:
        server.stop()


def node_id(node):
    return node.cli("CLUSTER", "MYID")


def test_a_cluster_migrating_a_slot_is_followed_through_ask_then_moved(start_worker, redis_cluster):
    worker = start_worker("shared_state_app:app", "--shared-state-backend", redis_cluster.url,
                          "--shared-state-prefix", "migrate:")
    call(worker.url, "/set", key="travels", value="along")
    call(worker.url, "/incr", key="travels-count")
    stored = "migrate:travels"
    source = redis_cluster.node_of(stored)
    target = next(node for node in redis_cluster.nodes if node is not source)
    slot = source.cli("CLUSTER", "KEYSLOT", stored)
    # Halfway: the key is on the target while the source still owns the slot, which answers
    # ASK for it.
    target.cli("CLUSTER", "SETSLOT", slot, "IMPORTING", node_id(source))
    source.cli("CLUSTER", "SETSLOT", slot, "MIGRATING", node_id(target))
    keys = source.cli("CLUSTER", "GETKEYSINSLOT", slot, "100").split()
    assert stored in keys
    result = subprocess.run([REDIS_CLI, "-p", str(source.port), "MIGRATE", "127.0.0.1", str(target.port), "", "0",
                             "5000", "KEYS", *keys], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "OK"
    assert call(worker.url, "/get", key="travels") == {"value": "along"}
    # Done: every node says the target owns the slot; the worker's map says the source, which
    # answers MOVED.
    for node in redis_cluster.nodes:
        node.cli("CLUSTER", "SETSLOT", slot, "NODE", node_id(target))
    assert call(worker.url, "/get", key="travels") == {"value": "along"}
    call(worker.url, "/set", key="travels", value="arrived")
    assert target.cli("HGET", stored, "value") == "arrived"
    # Keys of every node, listed and read together.
    call(worker.url, "/incr", key="travels-count")
    names = [f"spread-{i}" for i in range(30)]
    for name in names:
        call(worker.url, "/set", key=name, value=name)
    assert {redis_cluster.node_of(f"migrate:{name}").port for name in names} == {
        node.port for node in redis_cluster.nodes}
    assert timed(worker.url, "keys", key="spread-")["result"] == ["ok", sorted(names)]
    assert call(worker.url, "/get", key="travels-count") == {"value": 2}


def test_a_lost_cluster_master_fails_its_keys_only(start_worker, tmp_path):
    cluster = RedisCluster(tmp_path / "cluster")
    try:
        worker = start_worker("shared_state_app:app", "--shared-state-backend", cluster.url,
                              "--shared-state-timeout", "500ms")
        names = [f"k{i}" for i in range(20)]
        for name in names:
            call(worker.url, "/set", key=name, value=name)
        lost = cluster.nodes[2]
        on_lost = [name for name in names if cluster.node_of(f"hornbeam:{name}") is lost]
        elsewhere = [name for name in names if name not in on_lost]
        assert on_lost and elsewhere
        lost.stop()
        for name in on_lost[:3]:
            answer = timed(worker.url, "get", key=name)
            assert answer["result"][:2] == ["raised", "StateUnavailable"] and answer["elapsed"] < 1.2, answer
        for name in elsewhere:
            assert call(worker.url, "/get", key=name) == {"value": name}
        worker.wait_for_log(f"Redis at 127.0.0.1:{lost.port} is unavailable")
        assert worker.log.count(f"Redis at 127.0.0.1:{lost.port} is unavailable") == 1, worker.log
    finally:
        cluster.stop()


@pytest.mark.parametrize("url, why", [
    ("redis-sentinel://127.0.0.1:26379", "expected `shm`"),
    ("redis://127.0.0.1:6379/x", "expected `shm`"),
    ("unix://redis.sock", "`unix://[user:password@]/path/to/redis.sock[?db=N]`"),
])
def test_a_backend_that_is_not_one_is_refused_at_start(start_worker, url, why):
    worker = start_worker("shared_state_app:app", "--shared-state-backend", url, expect_ready=False)
    assert worker.exit_status() != 0
    assert "--shared-state-backend" in worker.log and why in worker.log and url in worker.log, worker.log


def make_ca_and_server_certificate(directory, ca_name):
    """A throwaway CA and a certificate it signs for localhost / 127.0.0.1."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, capture_output=True, check=True, timeout=30)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
            f"{ca_name}.key", "-out", f"{ca_name}.pem", "-days", "2", "-subj", f"/CN={ca_name}")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "redis.key",
            "-out", "redis.csr", "-subj", "/CN=localhost")
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "redis.csr", "-CA", f"{ca_name}.pem", "-CAkey", f"{ca_name}.key",
            "-CAcreateserial", "-out", "redis.pem", "-days", "2", "-extfile", "san.ext")


def test_rediss_checks_the_servers_certificate(start_worker, tmp_path):
    """rediss://: the state and pub/sub over TLS to a Redis that serves TLS only; a worker
    told to trust another CA refuses the server, and says why."""
    pki = tmp_path / "pki"
    pki.mkdir()
    make_ca_and_server_certificate(pki, "ca")
    make_ca_and_server_certificate(tmp_path, "rogue-ca")  # only its CA is used
    port = free_port()
    server = RedisServer(tmp_path / "redis", port, "--tls-port", str(port), "--port", "0",
                         "--tls-cert-file", str(pki / "redis.pem"), "--tls-key-file", str(pki / "redis.key"),
                         "--tls-ca-cert-file", str(pki / "ca.pem"), "--tls-auth-clients", "no",
                         cli_options=("--tls", "--cacert", str(pki / "ca.pem")))
    try:
        trusting = start_worker("shared_state_app:app", "--contexts", "2", "--shared-state-backend",
                                f"rediss://localhost:{port}/0", "--shared-state-tls-ca-certs", str(pki / "ca.pem"))
        assert call(trusting.url, "/checks")["publish reaches"] == [1, 1, 1, 0]
        call(trusting.url, "/incr", key="secure", n=5)
        assert server.cli("GET", "hornbeam:secure") == "5"
        # By address too: the certificate names 127.0.0.1.
        by_address = start_worker("shared_state_app:app", "--shared-state-backend", f"rediss://127.0.0.1:{port}/0",
                                  "--shared-state-tls-ca-certs", str(pki / "ca.pem"))
        assert call(by_address.url, "/get", key="secure") == {"value": 5}
        distrusting = start_worker("shared_state_app:app", "--shared-state-backend", f"rediss://localhost:{port}/0",
                                   "--shared-state-tls-ca-certs", str(tmp_path / "rogue-ca.pem"))
        answer = timed(distrusting.url, "get", key="secure")
        assert answer["result"][:2] == ["raised", "StateUnavailable"], answer
        assert "certificate" in answer["result"][2], answer
        # A plain client gets nothing from a TLS port.
        plain = start_worker("shared_state_app:app", "--shared-state-backend", f"redis://localhost:{port}/0",
                             "--shared-state-timeout", "300ms")
        assert timed(plain.url, "get", key="secure")["result"][:2] == ["raised", "StateUnavailable"]
    finally:
        server.stop()
