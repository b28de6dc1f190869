"""The crash tests' pause points: silent unless named, a marker and a pause when named."""

from __future__ import annotations

import pytest

from leadbridge.pipeline import testhook
from leadbridge.pipeline.testhook import STEPS, pause


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    calls: list[float] = []
    monkeypatch.setattr(testhook.time, "sleep", calls.append)
    return calls


def test_unset_or_other_step_does_nothing(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str],
                                          sleeps: list[float]) -> None:
    monkeypatch.delenv("LEADBRIDGE_TEST_PAUSE_AT", raising=False)
    for step in STEPS:
        pause(step)
    monkeypatch.setenv("LEADBRIDGE_TEST_PAUSE_AT", "cluster")
    monkeypatch.setenv("LEADBRIDGE_TEST_PAUSE_SECONDS", "5")
    pause("stage")
    assert sleeps == []
    assert capsys.readouterr().err == ""


def test_named_steps_print_a_marker_and_pause(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str],
                                              sleeps: list[float]) -> None:
    monkeypatch.setenv("LEADBRIDGE_TEST_PAUSE_AT", "stage,before_record")
    monkeypatch.setenv("LEADBRIDGE_TEST_PAUSE_SECONDS", "7")
    pause("before_record")
    pause("cluster")
    assert capsys.readouterr().err == "LEADBRIDGE_PAUSED before_record\n"
    assert sleeps == [7.0]
