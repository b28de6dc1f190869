"""Seeded generator of realistic messy leads, with a ground-truth ``person_id`` column.

Why: the engine's speed and exactness are measured on data that looks like a real CRM export
(duplicates with case/space/format variants, households sharing a phone, chains of 2-4 hops
through alternate emails and phones, placeholder keys, invalid emails, missing values), and
the benchmark must be reproducible, so every value derives from ``hh(row, seed, salt)``.

The whole table is produced by one DuckDB query (vectorized, multi-threaded, no Python per
row): 5M rows write in well under a minute. Output is deterministic for a given seed and
DuckDB version.

    python benchmarks/generate.py --rows 1000000 --seed 7 --out leads.csv

From Python: ``iter_leads(rows, seed)`` yields dicts, ``generate_table(rows, seed)`` returns an
Arrow table, ``write_csv(rows, seed, path)`` writes the CSV.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
         "William", "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
         "Thomas", "Sarah", "Charles", "Karen", "José", "Zoë", "Nguyen", "Aisha", "Mohammed",
         "Wei", "Olga", "Priya", "Seán", "Chloé"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
        "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
        "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
        "O'Brien", "Müller", "Kowalski", "Tanaka", "Okafor", "Dubois"]
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com",
           "proton.me", "comcast.net"]
WORK_DOMAINS = ["acme.com", "example.org", "realty.co", "homes.net", "brokerage.io"]
# Disjoint area-code sets: primary phones, secondary phones, household phones never collide.
AREA_PRIMARY = ["206", "415", "312", "617", "503", "702", "212", "305", "404", "512"]
AREA_SECOND = ["425", "510", "773", "781", "971", "725", "646", "786", "678", "737"]
AREA_HOUSE = ["253", "650", "847", "508", "541"]
STAGES = ["new", "New", "contacted", "qualified", "Qualified ", "appointment", "negotiation",
          "won", "lost", None]
OWNERS = ["agent.alice@realty.co", "agent.bob@realty.co", "carol@realty.co", "dan@realty.co",
          None]
CITIES = ["Seattle", "Portland", "Chicago", "Boston", "Austin", "Miami", "Denver", None]
SOURCES = ["web form", "zillow", "referral", "open house", "facebook", "google", None]
PLACEHOLDER_PHONES = ["0000000000", "1234567890", "(000) 000-0000", "111-111-1111",
                      "9999999999"]
PLACEHOLDER_EMAILS = ["none@none.com", "noemail@example.com", "na@na.com", "test@test.com"]
INVALID_EMAILS = ["n/a", "none", "john.smith@", "@gmail.com", "jane doe@gmail.com",
                  "bob@@yahoo.com", "mary@localhost", "x"]

COLUMNS = ["id", "first_name", "last_name", "email", "phone", "stage", "owner", "lead_source",
           "city", "budget", "created_at", "updated_at", "person_id"]


def _lit(values: list[str | None]) -> str:
    """A SQL list literal from trusted constants (quotes doubled)."""
    parts = ["NULL" if v is None else "'" + v.replace("'", "''") + "'" for v in values]
    return "[" + ", ".join(parts) + "]"


def _extra_columns(count: int, seed: int) -> str:
    """SELECT items for ``count`` extra CRM properties (``prop_001`` ...), as a wide export
    of HubSpot or Salesforce has: about a third empty, the rest a value of the person (so a
    person's duplicates mostly agree) or, for every fourth property, of the record."""
    items = []
    for k in range(1, int(count) + 1):
        owner = "i" if k % 4 == 0 else "p"
        items.append(
            f",\n  CASE WHEN hh(i, {seed}, 'xe{k}') % 3 = 0 THEN NULL "
            f"ELSE 'v{k}-' || (hh({owner}, {seed}, 'xv{k}') % 5000)::VARCHAR END "
            f"AS prop_{k:03d}")
    return "".join(items)


def _query(rows: int, seed: int, extra_columns: int = 0) -> str:
    """One SELECT producing the whole table; ``rows`` and ``seed`` are ints (checked)."""
    rows, seed = int(rows), int(seed)
    persons = max(1, int(rows * 0.62))
    return f"""
WITH base AS (
  SELECT i,
    -- uniform in [0,1) from a salted hash: deterministic for (row, seed, salt)
    (hh(i, {seed}, 'person') % {persons})::BIGINT AS p
  FROM range({rows}) t(i)
), person AS (
  SELECT i, p,
    {_lit(FIRST)}[1 + hh(p, {seed}, 'fn') % {len(FIRST)}] AS fn,
    {_lit(LAST)}[1 + hh(p, {seed}, 'ln') % {len(LAST)}] AS ln,
    {_lit(DOMAINS)}[1 + hh(p, {seed}, 'dom') % {len(DOMAINS)}] AS dom,
    {_lit(WORK_DOMAINS)}[1 + hh(p, {seed}, 'wdom') % {len(WORK_DOMAINS)}] AS wdom,
    -- 2000000 + (p * prime mod 8000000) is a bijection on persons: no accidental sharing
    {_lit(AREA_PRIMARY)}[1 + hh(p, {seed}, 'a1') % {len(AREA_PRIMARY)}]
      || (2000000 + (p * 7919) % 8000000)::VARCHAR AS ph1,
    {_lit(AREA_SECOND)}[1 + hh(p, {seed}, 'a2') % {len(AREA_SECOND)}]
      || (2000000 + (p * 104729) % 8000000)::VARCHAR AS ph2,
    -- about 8% of persons live in a household of three consecutive persons sharing a phone
    CASE WHEN hh(p // 3, {seed}, 'hh') % 100 < 8 THEN
      {_lit(AREA_HOUSE)}[1 + hh(p // 3, {seed}, 'ah') % {len(AREA_HOUSE)}]
      || (2000000 + ((p // 3) * 15485863) % 8000000)::VARCHAR END AS hph,
    hh(i, {seed}, 'e') % 1000 AS re, hh(i, {seed}, 'ph') % 1000 AS rp,
    hh(i, {seed}, 'ef') % 100 AS ref, hh(i, {seed}, 'pf') % 100 AS rpf,
    hh(i, {seed}, 'nm') % 100 AS rn, hh(i, {seed}, 'x') % 1000 AS rx
  FROM base
), emails AS (
  SELECT *,
    CASE
      WHEN rx < 5 THEN NULL                                  -- nothing usable at all
      WHEN re < 480 THEN lower(strip_accents(fn)) || '.' || lower(replace(strip_accents(ln), '''', '')) || p::VARCHAR || '@' || dom
      WHEN re < 680 THEN lower(left(strip_accents(fn), 1)) || lower(replace(strip_accents(ln), '''', '')) || p::VARCHAR || '@' || wdom
      WHEN re < 700 THEN {_lit(PLACEHOLDER_EMAILS)}[1 + hh(i, {seed}, 'pe') % {len(PLACEHOLDER_EMAILS)}]
      WHEN re < 720 THEN {_lit(INVALID_EMAILS)}[1 + hh(i, {seed}, 'ie') % {len(INVALID_EMAILS)}]
      WHEN re < 730 THEN ''
      ELSE NULL END AS e0,
    CASE
      WHEN rx < 5 THEN NULL
      WHEN rp < 80 AND hph IS NOT NULL THEN hph
      WHEN rp < 560 THEN coalesce(hph, ph1)
      WHEN rp < 700 THEN ph2
      WHEN rp < 725 THEN {_lit(PLACEHOLDER_PHONES)}[1 + hh(i, {seed}, 'pp') % {len(PLACEHOLDER_PHONES)}]
      WHEN rp < 730 THEN right(ph1, 7)                       -- short number, flagged
      ELSE NULL END AS p0
  FROM person
)
SELECT
  'L' || lpad(i::VARCHAR, 9, '0') AS id,
  CASE WHEN rx < 5 OR rn < 6 THEN NULL WHEN rn < 12 THEN upper(fn) ELSE fn END AS first_name,
  CASE WHEN rx < 5 OR rn < 9 THEN NULL WHEN rn < 15 THEN lower(ln) ELSE ln END AS last_name,
  CASE
    WHEN e0 IS NULL OR e0 = '' THEN e0
    WHEN ref < 10 THEN upper(e0)
    WHEN ref < 20 THEN upper(left(e0, 1)) || substr(e0, 2)
    WHEN ref < 25 THEN '  ' || e0 || ' '
    WHEN ref < 28 THEN chr(9) || e0
    WHEN ref < 30 THEN e0 || chr(160)
    ELSE e0 END AS email,
  CASE
    WHEN p0 IS NULL OR length(p0) <> 10 THEN p0
    WHEN rpf < 30 THEN p0
    WHEN rpf < 50 THEN '(' || p0[1:3] || ') ' || p0[4:6] || '-' || p0[7:10]
    WHEN rpf < 65 THEN '+1 (' || p0[1:3] || ') ' || p0[4:6] || '-' || p0[7:10]
    WHEN rpf < 75 THEN p0[1:3] || '.' || p0[4:6] || '.' || p0[7:10]
    WHEN rpf < 85 THEN p0[1:3] || '-' || p0[4:6] || '-' || p0[7:10]
    WHEN rpf < 90 THEN '1-' || p0[1:3] || '-' || p0[4:6] || '-' || p0[7:10]
    WHEN rpf < 94 THEN p0[1:3] || '-' || p0[4:6] || '-' || p0[7:10] || ' x' || (100 + rx)::VARCHAR
    WHEN rpf < 97 THEN '+1 ' || p0 || ' ext. ' || (10 + rx % 90)::VARCHAR
    ELSE ' ' || p0 || ' ' END AS phone,
  {_lit(STAGES)}[1 + hh(i, {seed}, 'st') % {len(STAGES)}] AS stage,
  {_lit(OWNERS)}[1 + hh(i, {seed}, 'ow') % {len(OWNERS)}] AS owner,
  {_lit(SOURCES)}[1 + hh(i, {seed}, 'src') % {len(SOURCES)}] AS lead_source,
  {_lit(CITIES)}[1 + hh(p, {seed}, 'city') % {len(CITIES)}] AS city,
  CASE WHEN hh(i, {seed}, 'b') % 3 = 0 THEN NULL
       ELSE (100000 + (hh(i, {seed}, 'bv') % 90) * 10000)::VARCHAR END AS budget,
  strftime(TIMESTAMP '2022-01-01' + to_seconds((hh(i, {seed}, 'c') % 63072000)::BIGINT),
           '%Y-%m-%dT%H:%M:%SZ') AS created_at,
  strftime(TIMESTAMP '2022-01-01' + to_seconds((hh(i, {seed}, 'c') % 63072000
             + hh(i, {seed}, 'u') % 15552000)::BIGINT), '%Y-%m-%dT%H:%M:%SZ') AS updated_at,
  'P' || p::VARCHAR AS person_id{_extra_columns(extra_columns, seed)}
FROM emails
ORDER BY i
"""


def _connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    # hash() is UBIGINT; list indexing and arithmetic want BIGINT (the top bit is dropped)
    con.execute("CREATE MACRO hh(a, s, b) AS (hash(a, s, b) >> 1)::BIGINT")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def generate_table(rows: int, seed: int = 0) -> pa.Table:
    """The whole generated table as Arrow (columns: see COLUMNS)."""
    con = _connect()
    try:
        return con.sql(_query(rows, seed)).to_arrow_table()
    finally:
        con.close()


def iter_leads(rows: int, seed: int = 0, batch_size: int = 50_000) -> Iterator[dict[str, Any]]:
    """Yield the generated leads as plain dicts (CSV column names, string values or None)."""
    con = _connect()
    try:
        reader = con.sql(_query(rows, seed)).to_arrow_reader(batch_size)
        for batch in reader:
            yield from batch.to_pylist()
    finally:
        con.close()


def write_csv(rows: int, seed: int, out: str | Path, extra_columns: int = 0) -> Path:
    """Write the generated table to ``out`` as a UTF-8 CSV with a header, and
    ``extra_columns`` more properties after ``person_id`` (a wide export)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    con = _connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        con.execute(f"COPY ({_query(rows, seed, extra_columns)}) TO $out (FORMAT csv, HEADER true)",
                    {"out": str(out)})
    finally:
        con.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="CSV file to write")
    parser.add_argument("--extra-columns", type=int, default=0,
                        help="extra CRM properties per record (prop_001 ...): a wide export")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    write_csv(args.rows, args.seed, args.out, args.extra_columns)
    print(f"wrote {args.rows} rows to {args.out} in {time.perf_counter() - start:.1f}s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
