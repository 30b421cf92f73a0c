"""The memory custval keeps between calls: reused without changing any answer, and handed
back on request."""

from __future__ import annotations

import gc
import sys

import custval
import pandas as pd
import pytest

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="blocks are kept on Linux")


def _lines(customers: int, products: int):
    return custval.datasets.simulate_baskets(customers, products, seed=3)


@linux_only
def test_large_blocks_are_kept_until_released():
    custval.release_memory()
    pairs = custval.affinity(_lines(20_000, 2_000), output="arrow")
    assert pairs.nbytes > 4 * 2**20
    del pairs
    gc.collect()
    # The result's columns (and the call's working vectors) were kept, not unmapped.
    assert custval.release_memory() >= 4 * 2**20
    assert custval.release_memory() == 0


def test_answers_are_the_same_on_reused_memory():
    """Blocks come back holding an earlier call's values (they are not zeroed): results
    written into them must not show any of it, whichever call used them last."""
    custval.release_memory()
    small, large = _lines(5_000, 500), _lines(20_000, 2_000)
    fresh = custval.affinity(large)
    first_recs = custval.recommend(small, top_k=5)
    for _ in range(2):
        custval.affinity(small)  # leaves its blocks, of other sizes, dirty
        again = custval.affinity(large)
        pd.testing.assert_frame_equal(again, fresh)
        pd.testing.assert_frame_equal(custval.recommend(small, top_k=5), first_recs)
    custval.release_memory()
    pd.testing.assert_frame_equal(custval.affinity(large), fresh)


@linux_only
def test_forking_while_other_threads_allocate_leaves_the_child_working():
    """Airflow and multiprocessing fork: a child forked while another thread held the
    allocator's lock would wait on it forever, and one forked after custval's pool started
    has none of its threads. Fork repeatedly while a thread keeps custval allocating large
    blocks; every child must finish its own call."""
    import os
    import threading
    import time
    import warnings

    lines = _lines(5_000, 500)
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            custval.affinity(lines, output="arrow")

    worker = threading.Thread(target=busy)
    worker.start()
    try:
        for _ in range(20):
            with warnings.catch_warnings():
                # Python 3.12+ warns that forking a threaded process may deadlock: the
                # point of this test is that custval does not.
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:  # the child: one call of its own, then out without cleanup
                status = 0 if len(custval.affinity(lines, output="arrow")) > 0 else 1
                os._exit(status)
            deadline = time.monotonic() + 60
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, 9)
                    pytest.fail("a forked child hung in custval")
                time.sleep(0.01)
            assert os.waitstatus_to_exitcode(status) == 0
    finally:
        stop.set()
        worker.join()
