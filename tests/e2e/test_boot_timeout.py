"""A worker that never finishes booting is killed after max(timeout, 30 s) and counted as a
failed boot, with a log line that says so (and that the SIGKILL was the arbiter's)."""

import re


def test_a_worker_that_never_finishes_booting_is_killed_and_replaced(start_arbiter):
    arbiter = start_arbiter("hangs_at_import:application", workers=1, expect_ready=False,
                            settings={"timeout": 1})
    arbiter.wait_for_log(r"worker 0 \(pid \d+, generation 1\) did not boot within 30s: killing it",
                         timeout=60)
    arbiter.wait_for_log(r"worker 0 \(pid \d+, generation 1\) failed to boot: it was killed "
                         r"\(SIGKILL from the arbiter\)")
    arbiter.wait_for_log(r"spawned worker 1 \(pid \d+, generation 1\)")
    assert not re.search(r"perhaps out of memory", arbiter.log)
    assert arbiter.stop() == 0
