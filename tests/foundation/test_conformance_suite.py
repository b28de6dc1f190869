"""leadbridge.testing catches each broken rule, names it, and passes a correct connector."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadbridge.testing import ConformanceFailure, ConformanceSource, check_connector, read_rows
from leadbridge.testing import _checks, canonical_rows, strategies

import toyconnectors as toy

ALL_CHECKS = {"metadata", "options_valid", "options_missing_required",
              "options_all_problems_at_once", "secrets_from_env", "secrets_not_shown",
              "secrets_not_logged",
              "records_shape", "source_ids_unique", "source_ids_stable", "state_json",
              "secrets_not_in_errors", "incremental_unchanged", "incremental_changed"}


def source(name: str) -> ConformanceSource:
    store = toy.make_store(name)

    def change():
        store["t0"]["updated_at"] = "2026-02-01T00:00:00Z"
        store["new"] = {"source_id": "new", "contact_name": "New",
                        "updated_at": "2026-02-02T00:00:00Z"}
        return ["t0", "new"]

    return ConformanceSource(options={"token": toy.TOKEN, "store": name, "page_size": 5},
                             change=change,
                             refused_options={"token": "toy-wrong-secret-5678", "store": name})


def failed_checks(cls, name, **kw) -> tuple[set[str], str]:
    with pytest.raises(ConformanceFailure) as exc:
        check_connector(cls, source(name), check_registration=False, **kw)
    return set(exc.value.failed), str(exc.value)


def test_a_correct_connector_passes_every_check():
    passed = check_connector(toy.Toy, source("good"), check_registration=False)
    assert set(passed) == ALL_CHECKS


@pytest.mark.parametrize("cls, check, words", [
    (toy.LeakyRepr, "secrets_not_shown", ["repr(connector)"]),
    (toy.LeakyLog, "secrets_not_logged", ["toy.debug: calling with ***"]),
    (toy.UnknownKey, "records_shape", ["'favourite_colour'", "custom_fields"]),
    (toy.IntIds, "records_shape", ["source_id must be non-empty text"]),
    (toy.NaiveTimes, "records_shape", ["updated_at", "no UTC offset"]),
    (toy.BadPlatform, "metadata", ["'myspace'", "not a MEGA value"]),
    (toy.SecretWithoutEnv, "metadata", ["'token'", "env variable"]),
    (toy.DuplicateIds, "source_ids_unique", ["'t0' yielded 2 times"]),
    (toy.UnstableIds, "source_ids_stable", ["only in the first read"]),
    (toy.ChecksBeforeValidating, "options_all_problems_at_once", ["SourceError"]),
    (toy.LeakyError, "secrets_not_in_errors", ["secret to***"]),
    (toy.RawError, "secrets_not_in_errors", ["KeyError", "not a LeadbridgeError"]),
])
def test_each_broken_rule_fails_its_check_by_name(cls, check, words):
    failed, text = failed_checks(cls, cls.__name__)
    assert check in failed
    for word in words:
        assert word in text
    assert toy.TOKEN not in text and "toy-wrong-secret-5678" not in text  # the report leaks none


def test_records_that_raise_fail_the_record_checks_with_the_reason():
    failed, text = failed_checks(toy.RawError, "raw")
    assert {"records_shape", "source_ids_stable", "state_json"} <= failed
    assert "raised KeyError" in text


def test_state_that_is_not_json_fails_state_json():
    failed, text = failed_checks(toy.DatetimeState, "dt")
    assert "state_json" in failed and "not JSON-serializable" in text


def test_a_connector_ignoring_state_fails_both_incremental_checks():
    failed, text = failed_checks(toy.IgnoresState, "ign")
    assert failed == {"incremental_unchanged", "incremental_changed"}
    assert "yielded source_id 't1' again though nothing changed" in text
    assert "yielded unchanged source_id 't2'" in text


def test_declared_not_incremental_skips_the_incremental_checks():
    passed = check_connector(toy.IgnoresState, source("ign2"), incremental=False,
                             check_registration=False)
    assert "incremental_unchanged" not in passed and "state_json" in passed


def test_incremental_without_change_is_a_clear_failure():
    src = source("nochange")
    src.change = None
    with pytest.raises(ConformanceFailure, match="no change"):
        _checks.check_incremental_changed(toy.Toy, src)


def test_options_problems_all_at_once_are_checked_for_every_option(monkeypatch):
    # an environment token must not fill the "missing" required option
    monkeypatch.setenv("TOY_TOKEN", toy.TOKEN)
    _checks.check_options_all_problems_at_once(toy.Toy, source("opts"))
    _checks.check_options_missing_required(toy.Toy)
    with pytest.raises(ConformanceFailure, match="built without required"):
        _checks.check_options_missing_required(_BypassesValidation)


class _BypassesValidation(toy.Toy):
    """Claims `store` is required but builds anyway (validation bypassed)."""

    def __init__(self, **given):
        self.config = {"store": None}


def test_an_unregistered_connector_fails_registered():
    with pytest.raises(ConformanceFailure, match="no connector 'toy' among the installed"):
        _checks.check_registered(toy.Toy)


def test_read_rows_gives_the_staged_form():
    toy.make_store("rows", n=2)
    conn = toy.Toy(token=toy.TOKEN, store="rows")
    rows = read_rows(conn)
    assert [r["source_id"] for r in rows] == ["t0", "t1"]
    assert rows[1]["custom_fields"] == {"n": 1} and rows[0]["deleted"] is None


def test_the_pytest_class_reports_each_rule_as_its_own_test(tmp_path):
    """An author's test file: one failing rule shows up as one failing, named test."""
    here = Path(__file__).resolve().parent
    (tmp_path / "test_author.py").write_text(textwrap.dedent(f"""
        import sys
        import pytest
        sys.path.insert(0, {str(here)!r})
        import toyconnectors as toy
        from leadbridge.testing import ConformanceSource, ConnectorConformance

        class TestLeaky(ConnectorConformance):
            connector_class = toy.LeakyRepr
            check_registration = False

            @pytest.fixture
            def conformance_source(self):
                store = toy.make_store("author")
                def change():
                    store["t1"]["updated_at"] = "2026-03-01T00:00:00Z"
                    return ["t1"]
                return ConformanceSource(options={{"token": toy.TOKEN, "store": "author"}},
                                         change=change)
    """))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfs", "test_author.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    out = proc.stdout
    assert proc.returncode == 1, out
    assert "FAILED test_author.py::TestLeaky::test_secrets_not_shown" in out
    assert "1 failed, 12 passed, 2 skipped" in out  # registration, refused_options skipped
    assert toy.TOKEN not in out


def test_testing_all_is_sorted_and_importable():
    import leadbridge.testing as t

    assert t.__all__ == sorted(t.__all__)
    for name in t.__all__:
        assert getattr(t, name) is not None
    public = {n for n in dir(t) if not n.startswith("_") and n not in ("annotations", "Any")}
    # submodules: the pytest plugin (loaded by pytest), strategies (needs hypothesis)
    assert public - set(t.__all__) <= {"pytest_plugin", "strategies"}


@given(st.lists(strategies.canonical_records(), min_size=1, max_size=5))
def test_generated_records_pass_the_shape_rules_and_stage(records):
    for rec in records:
        assert _checks._dict_problems(rec) == []
    rows = canonical_rows(list(records))
    assert [r["source_id"] for r in rows] == [r["source_id"] for r in records]
    for row in rows:
        assert _checks._row_problems(row) == []
