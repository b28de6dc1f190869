"""The SQL macros and Python key functions agree; keys are idempotent; the SQL phone
classifier equals phonenumbers."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadbridge import mega_model as mm
from leadbridge.engine.phones import classify_python, fast_path_sql

# characters that matter to the rules, plus anything at all
SPECIAL = (mm.SURROUNDING_WHITESPACE + "0123456789xXeEtTnNsSiIoO#;=.@-()+ ſKk\u212a\u0130")
messy = st.one_of(
    st.text(alphabet=st.sampled_from(SPECIAL), max_size=24),
    st.text(max_size=16),
)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    for statement in mm.duckdb_macros():
        c.execute(statement)
    return c


@settings(max_examples=40)
@given(st.lists(messy, min_size=1, max_size=50))
def test_sql_macros_equal_python(con: duckdb.DuckDBPyConnection, values: list[str]) -> None:
    rows = con.execute(
        "SELECT v, lb_email_key(v), lb_email_valid(v), lb_phone_key(v), lb_phone_clean(v), "
        "lb_phone_ext(v) FROM unnest(?::VARCHAR[]) WITH ORDINALITY t(v, i) ORDER BY i",
        [values],
    ).fetchall()
    for value, ekey, evalid, pkey, pclean, pext in rows:
        assert ekey == mm.email_key(value), value
        assert evalid == mm.is_valid_email(value), value
        assert pkey == mm.phone_key(value), value
        assert pclean == mm.clean_phone(value), value
        expected_ext = mm.split_phone_extension(value)[1] if pclean is not None else None
        assert (pext if pclean is not None else None) == expected_ext, value


@given(messy)
def test_keys_are_idempotent_and_megas_key_of_sent_phone_equals_ours(value: str) -> None:
    ek = mm.email_key(value)
    assert mm.email_key(ek) == ek
    pk = mm.phone_key(value)
    assert mm.phone_key(pk) == pk
    assert mm.mega_phone_key(mm.clean_phone(value)) == pk


@settings(max_examples=30)
@given(st.lists(st.integers(2_000_000_000, 9_999_999_999), min_size=1, max_size=200))
def test_sql_phone_classifier_equals_phonenumbers(con: duckdb.DuckDBPyConnection,
                                                  numbers: list[int]) -> None:
    fast = fast_path_sql("US")
    assert fast is not None
    _, _, valid_sql = fast
    values = [str(n) for n in numbers]
    got = con.execute(f"SELECT {valid_sql} FROM unnest(?::VARCHAR[]) WITH ORDINALITY t(n, i) "
                      "ORDER BY i", [values]).fetchall()
    expected = classify_python(values, "US")
    assert [v for (v,) in got] == [status == "valid" for status, _ in expected]
