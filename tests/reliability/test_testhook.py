"""The crash tests' pause points: silent unless named, a marker and a pause when named."""

from __future__ import annotations

import time

import pytest

from leadbridge.pipeline.testhook import STEPS, pause


def test_unset_or_other_step_does_nothing(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("LEADBRIDGE_TEST_PAUSE_AT", raising=False)
    for step in STEPS:
        pause(step)
    monkeypatch.setenv("LEADBRIDGE_TEST_PAUSE_AT", "cluster")
    monkeypatch.setenv("LEADBRIDGE_TEST_PAUSE_SECONDS", "5")
    started = time.monotonic()
    pause("stage")
    assert time.monotonic() - started < 5
    assert capsys.readouterr().err == ""


def test_named_steps_print_a_marker(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LEADBRIDGE_TEST_PAUSE_AT", "stage,before_record")
    monkeypatch.setenv("LEADBRIDGE_TEST_PAUSE_SECONDS", "0")
    pause("before_record")
    pause("cluster")
    assert capsys.readouterr().err == "LEADBRIDGE_PAUSED before_record\n"
