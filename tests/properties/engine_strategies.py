"""Hypothesis strategies for messy lead records that collide often (small key pools)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

EMAILS = ["ana@example.com", "bob@example.com", "cy@mail.org", "dee@mail.org", "eve@x.io",
          "fay@x.io", "none@none.com"]
PHONES = ["2065550123", "4155550199", "3125550142", "6175550100", "5035550111", "0000000000",
          "5550123"]
NAMES = ["Ana Li", "Bob Ray", "Cy Po", "Dee Ng", "Éva Ür", 'Q "quote" \\ back\tslash', "Zoë\u2028x"]
WS = ["", " ", "\t", "\u00a0", "\n", "\u200b"]


@st.composite
def email_variant(draw: Any) -> str | None:
    base = draw(st.sampled_from(EMAILS + ["not-an-email", "x@y", ""]))
    case = draw(st.sampled_from([str, str.upper, str.title]))
    return draw(st.sampled_from(WS)) + case(base) + draw(st.sampled_from(WS))


@st.composite
def phone_variant(draw: Any) -> str | None:
    d = draw(st.sampled_from(PHONES))
    if len(d) == 10:
        fmt = draw(st.sampled_from([
            "{}", "({0}{1}{2}) {3}{4}{5}-{6}{7}{8}{9}", "+1 {0}{1}{2}-{3}{4}{5}-{6}{7}{8}{9}",
            "{0}{1}{2}.{3}{4}{5}.{6}{7}{8}{9}", "1-{0}{1}{2}-{3}{4}{5}-{6}{7}{8}{9}",
        ]))
        text = fmt.format(d) if fmt == "{}" else fmt.format(*d)
    else:
        text = d
    ext = draw(st.sampled_from(["", "", " x12", " ext. 7", "#99", ";ext=5"]))
    return text + ext


@st.composite
def record(draw: Any, source_id: int) -> dict[str, Any]:
    day = draw(st.integers(1, 4))  # few distinct times: ties are common
    return {
        "source_id": f"s{source_id}",
        "contact_name": draw(st.one_of(st.none(), st.sampled_from(NAMES))),
        "contact_email": draw(st.one_of(st.none(), email_variant())),
        "contact_phone": draw(st.one_of(st.none(), phone_variant())),
        "stage": draw(st.sampled_from([None, "New", "won"])),
        "custom_fields": draw(st.one_of(st.none(), st.dictionaries(
            st.sampled_from(["budget", "city", "ünï"]), st.sampled_from(["1", "x", "", "é\"q"]),
            max_size=3))),
        "updated_at": draw(st.sampled_from([None, f"2024-01-0{day}T00:00:00Z"])),
        "deleted": draw(st.sampled_from([None, None, None, True])),
    }


@st.composite
def records(draw: Any, max_size: int = 40) -> list[dict[str, Any]]:
    n = draw(st.integers(0, max_size))
    return [draw(record(i)) for i in range(n)]
