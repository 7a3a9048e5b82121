"""The container image's entrypoint and configuration (packaging/container/), run the way the
image runs them: the arbiter as PID 1 of a fresh PID namespace (no Docker engine runs here),
with the metrics listener on."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from conftest import ARBITER_BIN, SOURCE, pid_alive
from peers import free_port

CONTAINER = SOURCE / "packaging" / "container"


def entrypoint():
    """The Dockerfile's ENTRYPOINT, as a list."""
    import json
    line = next(line for line in (CONTAINER / "Dockerfile").read_text().splitlines() if line.startswith("ENTRYPOINT"))
    return json.loads(line.removeprefix("ENTRYPOINT"))


def children(pid):
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def test_the_image_entrypoint_runs_as_pid_1_and_stops_cleanly(tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("a PID namespace needs root and unshare")
    command = entrypoint()
    assert command[0] == "hornbeam-arbiter" and command[1:] == ["-c", "/etc/hornbeam/hornbeam.yaml"]
    # The image's configuration, with its paths and ports moved to this machine's.
    config = yaml.safe_load((CONTAINER / "hornbeam.yaml").read_text())
    assert config["metrics_bind"].endswith(":9100") and config["shutdown_delay"] == "5s"
    port, metrics_port = free_port(), free_port()
    config.update(pythonpath=[str(SOURCE / "examples" / "hello")], bind=[f"127.0.0.1:{port}"],
                  metrics_bind=f"127.0.0.1:{metrics_port}", shutdown_delay="1s")
    (tmp_path / "hornbeam.yaml").write_text(yaml.safe_dump(config))
    log = open(tmp_path / "log", "w")
    namespace = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", ARBITER_BIN, "-c",
                                  str(tmp_path / "hornbeam.yaml")], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{metrics_port}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline and namespace.poll() is None, (tmp_path / "log").read_text()
            time.sleep(0.1)
        assert requests.get(f"http://127.0.0.1:{port}/").status_code == 200
        [arbiter] = children(namespace.pid)
        assert Path(f"/proc/{arbiter}/status").read_text().count("NSpid:") == 1
        nspid = next(line for line in Path(f"/proc/{arbiter}/status").read_text().splitlines()
                     if line.startswith("NSpid:")).split()
        assert nspid[-1] == "1", nspid  # PID 1 inside
        workers = children(arbiter)
        assert len(workers) == 2
        os.kill(arbiter, signal.SIGTERM)
        assert namespace.wait(30) == 0, (tmp_path / "log").read_text()
    finally:
        if namespace.poll() is None:
            namespace.kill()
            namespace.wait()
    assert not any(pid_alive(pid) for pid in workers)
    text = (tmp_path / "log").read_text()
    assert "serving 1.0s more (shutdown_delay)" in text and "arbiter stopped" in text


def test_the_kubernetes_manifests_lint_and_agree_with_the_configuration():
    manifests = SOURCE / "packaging" / "kubernetes"
    files = sorted(manifests.glob("*.yaml"))
    if shutil.which("yamllint"):
        lint = subprocess.run(["yamllint", "-s", "-c", str(manifests / ".yamllint"), *map(str, files)],
                              capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout + lint.stderr
    documents = {doc["kind"]: doc for path in files for doc in yaml.safe_load_all(path.read_text()) if doc}
    assert set(documents) >= {"Deployment", "ConfigMap", "Service", "PodMonitor", "HorizontalPodAutoscaler"}
    settings = yaml.safe_load(documents["ConfigMap"]["data"]["hornbeam.yaml"])
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert settings["bind"] == [f"0.0.0.0:{ports['http']}"]
    assert settings["metrics_bind"] == f"0.0.0.0:{ports['metrics']}"
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert "lifecycle" not in container  # no preStop sleep: shutdown_delay does it

    def seconds(text):
        return float(str(text).removesuffix("s"))
    assert pod["terminationGracePeriodSeconds"] > seconds(settings["shutdown_delay"]) + seconds(settings["graceful_timeout"])
    assert documents["PodMonitor"]["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    assert documents["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == documents["Deployment"]["metadata"]["name"]
    # The ConfigMap's configuration is one hornbeam accepts.
    check = subprocess.run([ARBITER_BIN, "--check-config", "-c", "/dev/stdin"],
                           input=yaml.safe_dump({**settings, "pythonpath": ["/"], "chdir": "/"}),
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
