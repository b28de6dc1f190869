"""Every TOML example in docs/mapping.md is valid and its [mapping] loads: the worked examples
can be copied as they are."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from leadbridge.mapping_model import Mapping

DOC = Path(__file__).resolve().parents[2] / "docs" / "mapping.md"
CONNECTORS = ("csv", "hubspot", "salesforce", "zoho", "ghl", "shopify", "followupboss",
              "pipedrive", "mega", "lead_docket")


def test_every_toml_example_loads() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    seen = set()
    for block in blocks:
        data = tomllib.loads(block)
        mapping = Mapping.from_dict(data.get("mapping"))
        assert not mapping.empty
        seen.add(data.get("source", {}).get("connector"))
    assert set(CONNECTORS) <= seen
