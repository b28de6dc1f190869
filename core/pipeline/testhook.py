"""A pause point for crash tests: ``LEADBRIDGE_TEST_PAUSE_AT=step`` stops a run at that step.

Killing a process "at a random moment" rarely lands inside a short step; the reliability tests
need to SIGKILL ``leadbridge sync`` exactly while it stages, clusters, right after a chunk is
marked ``sending``, while MEGA's answer is not yet stored, and while stored answers are not yet
folded into the snapshot. At a named step this prints
``LEADBRIDGE_PAUSED <step>`` on stderr and sleeps ``LEADBRIDGE_TEST_PAUSE_SECONDS`` (30),
then carries on. Unset (always, outside tests) it costs one dict lookup.
"""

from __future__ import annotations

import os
import sys
import time

#: The steps a test can stop at, in the order a run reaches them.
STEPS = ("stage", "cluster", "after_ledger", "before_record", "before_fold")


def pause(step: str) -> None:
    """Print a marker and sleep when the environment names this step."""
    wanted = os.environ.get("LEADBRIDGE_TEST_PAUSE_AT")
    if not wanted or step not in wanted.split(","):
        return
    sys.stderr.write(f"LEADBRIDGE_PAUSED {step}\n")
    sys.stderr.flush()
    time.sleep(float(os.environ.get("LEADBRIDGE_TEST_PAUSE_SECONDS", "30")))
