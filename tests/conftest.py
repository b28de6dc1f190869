"""Suite-wide settings. Area fixtures live in each folder's own conftest.py."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# CI runs on 2 shared cores: bounded examples, no per-example deadline (timing is noise here;
# speed is measured in benchmarks/). `HYPOTHESIS_PROFILE=thorough` for a deeper local run.
settings.register_profile("ci", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
