"""leadbridge.pipeline's public names stay honest, and the top-level lazy names resolve."""

from __future__ import annotations

import leadbridge
import leadbridge.pipeline as pipeline


def test_all_is_sorted_and_importable() -> None:
    assert pipeline.__all__ == sorted(pipeline.__all__)
    for name in pipeline.__all__:
        assert getattr(pipeline, name) is not None


def test_top_level_sync_and_plan_are_the_pipeline_functions() -> None:
    assert leadbridge.sync is pipeline.sync
    assert leadbridge.plan is pipeline.plan
