"""The connector base class: typed options validated all at once, secrets from the
environment and never shown, and the canonical record conversion."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from leadbridge import Connector, Option, OptionsError, Secret
from leadbridge.records import CANONICAL_SCHEMA, dicts_to_batch, to_batches


class Typed(Connector):
    name = "typed"
    description = "Every option type."
    options = (
        Option("token", "secret", required=True, env="TYPED_TOKEN", help="secret"),
        Option("host", "str", required=True, help="host"),
        Option("count", "int", default=3, help="count"),
        Option("ratio", "float", default=0.5, help="ratio"),
        Option("flag", "bool", default=False, help="flag"),
        Option("where", "path", default=None, help="path"),
        Option("mode", "choice", default="fast", choices=("fast", "slow"), help="mode"),
    )

    def records(self, state):
        yield {"source_id": "1"}


@pytest.fixture(autouse=True)
def no_token_env(monkeypatch):
    monkeypatch.delenv("TYPED_TOKEN", raising=False)


def test_every_problem_is_reported_in_one_error():
    with pytest.raises(OptionsError) as exc:
        Typed(count="many", ratio="half", flag="perhaps", mode="warp", colour="red")
    err = exc.value
    assert err.connector == "typed" and len(err.problems) == 7
    text = str(err)
    for name in ("'token' is required (or set TYPED_TOKEN)", "'host' is required",
                 "'count'", "'ratio'", "'flag'", "'mode'", "unknown option 'colour'"):
        assert name in text
    assert "must be one of fast, slow" in text


def test_values_from_the_command_line_are_converted():
    c = Typed(token="t-secret-1", host="h", count="7", ratio="0.25", flag="yes",
              where="/tmp/x", mode="slow")
    assert c.config["count"] == 7 and c.config["ratio"] == 0.25 and c.config["flag"] is True
    assert c.config["where"] == Path("/tmp/x") and c.config["mode"] == "slow"
    assert isinstance(c.config["token"], Secret) and c.config["token"].reveal() == "t-secret-1"
    defaults = Typed(token="t", host="h").config
    assert defaults["count"] == 3 and defaults["flag"] is False and defaults["where"] is None


def test_secret_comes_from_its_env_var_and_never_shows(monkeypatch):
    monkeypatch.setenv("TYPED_TOKEN", "env-secret-value-42")
    c = Typed(host="h")
    assert c.config["token"].reveal() == "env-secret-value-42"
    for text in (repr(c), str(c), repr(c.config), str(c.config["token"])):
        assert "env-secret-value-42" not in text
    assert repr(c.config["token"]) == "Secret('***')"


def test_an_invalid_env_value_is_named_by_its_variable_without_a_secret(monkeypatch):
    class EnvCount(Typed):
        options = (*Typed.options[:2], Option("count", "int", env="TYPED_COUNT", help="n"))

    monkeypatch.setenv("TYPED_COUNT", "lots")
    with pytest.raises(OptionsError, match="from environment variable TYPED_COUNT"):
        EnvCount(token="abc-secret-xyz", host="h")
    with pytest.raises(OptionsError) as exc:
        EnvCount(token="abc-secret-xyz", host="h")
    assert "abc-secret-xyz" not in str(exc.value)


def test_secret_value_semantics():
    s = Secret("hunter2-secret")
    assert str(s) == repr(s) == "Secret('***')" and f"{s}" == "Secret('***')"
    assert s == Secret("hunter2-secret") and s != Secret("other") and s != "hunter2-secret"
    assert bool(s) and not bool(Secret(""))
    assert "hunter2" not in repr([s, {"k": s}])


def test_dicts_become_the_canonical_schema_and_custom_fields_json():
    batch = dicts_to_batch([{"source_id": "1", "contact_email": "a@x.com",
                             "custom_fields": {"b": 2, "a": [1]}, "emails": ["x@y.z", None],
                             "deleted": 1}, {"source_id": "2"}])
    assert batch.schema == CANONICAL_SCHEMA
    rows = batch.to_pylist()
    assert json.loads(rows[0]["custom_fields"]) == {"a": [1], "b": 2}
    assert rows[0]["emails"] == ["x@y.z"] and rows[0]["deleted"] is True
    assert rows[1]["contact_email"] is None


def test_batches_are_cast_and_completed_to_the_canonical_schema():
    own = pa.RecordBatch.from_pydict({"source_id": pa.array([1, 2], pa.int64()),
                                      "contact_name": ["A", "B"]})
    out = list(to_batches([own, {"source_id": "3"}]))
    assert [b.schema == CANONICAL_SCHEMA for b in out] == [True, True]
    assert out[0].column("source_id").to_pylist() == ["1", "2"]
    assert out[1].column("source_id").to_pylist() == ["3"]


def test_typed_values_from_a_job_file_are_checked_and_named_plainly():
    """TOML gives typed values: `count = 2.5` was truncated to 2 and `count = true` read as 1;
    a wrong value said "option 'where' from option must be path, not 5"."""
    for value in (2.5, True):
        with pytest.raises(OptionsError, match=f"option 'count' must be a whole number, not "
                                               f"{value!r}"):
            Typed(token="t", host="h", count=value)
    with pytest.raises(OptionsError) as exc:
        Typed(token="t", host="h", where=5, ratio=False)
    assert "option 'where' must be a file path, not 5" in str(exc.value)
    assert "option 'ratio' must be a number, not False" in str(exc.value)
    assert "from option" not in str(exc.value)
    assert Typed(token="t", host="h", count=3.0).config["count"] == 3
