"""MEGA as a source, read from a MEGA sandbox with the real client."""

import time

import pytest

from leadbridge.connectors.mega import CURSOR, MegaConnector
from leadbridge.errors import SourceError
from leadbridge.mega import MegaClient


def grant(sb):
    return sb.config.tokens[0]


def client(sb):
    g = grant(sb)
    return MegaClient(base_url=sb.base_url, token=g.token, customer_id=g.customer_id,
                      time_scale=0.01)


def seed(sb, rows):
    with client(sb) as c:
        return c.bulk_import(rows)


def conn(sb, **opts):
    g = grant(sb)
    return MegaConnector(base_url=sb.base_url, token=g.token, customer_id=g.customer_id,
                         time_scale=0.01, **opts)


def test_full_then_incremental_every_lead_once(source):
    rows = [{"row_ref": f"r{i}", "contact_name": f"Lead {i}",
             "contact_email": f"lead{i}@example.com", "source_platform": "hubspot",
             "stage_slug": "contacted", "lead_line": "seller" if i % 2 else "buyer"} for i in range(30)]
    seed(source, rows)
    state = {}
    full = list(conn(source, page_size=7).records(state))
    ids = [r["source_id"] for r in full]
    assert len(ids) == len(set(ids)) == 30
    one = next(r for r in full if r["contact_email"] == "lead1@example.com")
    assert one["source_platform"] == "hubspot" and one["lead_line"] == "seller"
    assert one["stage"] == "contacted" and one["contact_name"] == "Lead 1"
    assert state[CURSOR] and state[CURSOR + "_ids"]
    time.sleep(0.01)
    seed(source, [{"row_ref": f"n{i}", "contact_name": f"New {i}",
                   "contact_email": f"new{i}@example.com"} for i in range(5)])
    inc = list(conn(source, page_size=7, lookback_seconds=0).records(state))
    assert sorted(r["contact_email"] for r in inc) == [f"new{i}@example.com" for i in range(5)]
    assert list(conn(source, lookback_seconds=0).records(state)) == []


def test_bad_token_is_a_clear_source_error_without_the_token(source):
    c = MegaConnector(base_url=source.base_url, token="mega_" + "0" * 64,
                      customer_id=grant(source).customer_id, time_scale=0.01)
    with pytest.raises(SourceError) as exc:
        list(c.records({}))
    assert "mega (source)" in str(exc.value) and "0" * 64 not in str(exc.value)
    assert grant(source).token not in repr(conn(source))
