"""The .deb (cmake/Package.cmake): made with cpack from this build, installed with dpkg into
this machine, checked (--version, --check-config on the shipped configuration, man pages, the
units), and removed again."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import CONTEXT_MODE, EMBEDS_DEBIAN_PYTHON

BUILD = Path(os.environ.get("HB_TEST_BUILD_DIR", Path(__file__).resolve().parents[2] / "build"))


def run(*command, check=True):
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, " ".join(command) + "\n" + result.stdout + result.stderr
    return result


def test_the_deb_installs_checks_its_configuration_and_goes_away(tmp_path):
    if os.geteuid() != 0 or not shutil.which("dpkg") or not shutil.which("cpack"):
        pytest.skip("installing a package needs root, dpkg and cpack")
    if not EMBEDS_DEBIAN_PYTHON or CONTEXT_MODE != "thread":
        pytest.skip("the .deb is made from the build that embeds Debian's Python (e2e.*)")
    if run("dpkg-query", "-W", "-f=${Status}", "hornbeam", check=False).stdout.startswith("install ok"):
        pytest.skip("a hornbeam package is installed on this machine: not replacing it")
    run("cpack", "-G", "DEB", "-B", str(tmp_path), "--config", str(BUILD / "CPackConfig.cmake"))
    [deb] = tmp_path.glob("hornbeam_*.deb")
    info = run("dpkg-deb", "--info", str(deb)).stdout
    for dependency in ("libpython3.11", "libyaml-cpp0.7", "libboost-program-options1.81.0", "libssl3",
                       "python3"):
        assert dependency in info, info
    contents = run("dpkg-deb", "--contents", str(deb)).stdout
    for path in ("./usr/bin/hornbeam-arbiter", "./usr/bin/hornbeam-worker", "./usr/bin/hornbeamctl",
                 "./etc/hornbeam/hornbeam.yaml", "./usr/share/man/man5/hornbeam.yaml.5.gz",
                 "./usr/share/man/man1/hornbeamctl.1.gz", "./usr/lib/systemd/system/hornbeam.service"):
        assert path in contents, contents
    try:
        run("dpkg", "-i", str(deb))
        assert run("/usr/bin/hornbeam-arbiter", "--version").stdout.startswith("hornbeam 0.")
        assert run("/usr/bin/hornbeamctl", "--version").stdout.startswith("hornbeam 0.")
        check = run("/usr/bin/hornbeam-arbiter", "-c", "/etc/hornbeam/hornbeam.yaml", "--check-config")
        assert check.returncode == 0
        assert run("/usr/bin/hornbeam-worker", "--version").stdout.startswith("hornbeam 0.")
        man = run("zcat", "/usr/share/man/man5/hornbeam.yaml.5.gz").stdout
        assert ".TH HORNBEAM.YAML 5" in man and "shutdown_delay" in man
        assert "/etc/hornbeam/hornbeam.yaml" in run("dpkg-query", "-W", "-f=${Conffiles}", "hornbeam").stdout
    finally:
        run("dpkg", "--purge", "hornbeam")
    assert not Path("/usr/bin/hornbeam-arbiter").exists() and not Path("/etc/hornbeam/hornbeam.yaml").exists()
