import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_example_crm import FakeExampleCRM  # noqa: E402

TOKEN = "example-secret-token"


@pytest.fixture
def crm():
    with FakeExampleCRM(TOKEN) as fake:
        for i in range(1, 4):
            fake.add(i, f"2026-03-0{i}T10:00:00Z", name=f"Person {i}",
                     email=f"p{i}@example.com", phone=f"+1555555010{i}", tier="gold")
        yield fake
