"""The "floor-arrow" contender of bench_dedupe.py: the same floor as floor_dedupe.py, with
the records held as Arrow arrays and the graph and merge work done by numpy, not DuckDB tables.

Why it exists: docs/performance.md's verdict says a DuckDB pipeline cannot merge the wide rows
within the bar under 3 GiB, and that the Arrow kernels did not help when the rows were first
fetched out of DuckDB tables. This floor never puts the records in a DuckDB table: DuckDB
reads the CSV and computes the keys with leadbridge's macros straight into Arrow; numpy finds
the components (min-label propagation with pointer jumping over sorted key groups) and, per
field, the newest record with a value; Arrow gathers the winning values; DuckDB turns the
golden Arrow table into JSON and hashes. It answers whether an engine built that way could
meet the bar without a compiled core, before anyone writes one.

Same outputs and the same omissions as floor_dedupe.py, plus the benchmark's key guard
(keys held by more than 50 records are left out of clustering, as in the Splink contender).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from floor_dedupe import connect, write_bodies
from rss import peak_mb

KEY_GUARD = 50


def _key_groups(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Records with a key, ordered by key: (order, group starts, group sizes); keys held by
    more than KEY_GUARD records are dropped (the benchmark's placeholder stand-in)."""
    order = np.flatnonzero(ids >= 0)
    order = order[np.argsort(ids[order], kind="stable")]
    keys = ids[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    keep = (sizes > 1) & (sizes <= KEY_GUARD)  # a key on one record links nothing
    member = np.repeat(keep, sizes)
    order = order[member]
    sizes = sizes[keep]
    starts = np.r_[0, np.cumsum(sizes)[:-1]] if len(sizes) else np.zeros(0, np.int64)
    return order, starts, sizes


def components(email_ids: np.ndarray, phone_ids: np.ndarray) -> np.ndarray:
    """Each record's label: the smallest record index of its connected component."""
    labels = np.arange(len(email_ids), dtype=np.int64)
    groups = [g for g in (_key_groups(email_ids), _key_groups(phone_ids)) if len(g[0])]
    changed = True
    while changed:
        changed = False
        for order, starts, sizes in groups:
            current = labels[order]
            smallest = np.repeat(np.minimum.reduceat(current, starts), sizes)
            lower = smallest < current
            if lower.any():
                labels[order[lower]] = smallest[lower]
                changed = True
        while True:  # pointer jumping: a label is a record of the same component
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
    return labels


def _ids(column: pa.ChunkedArray) -> np.ndarray:
    encoded = pc.dictionary_encode(column).combine_chunks()
    return pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _valid(column: pa.ChunkedArray) -> np.ndarray:
    return pc.is_valid(column).to_numpy(zero_copy_only=False)


def run_floor_arrow(path: str, out_dir: Path, threads: int,
                    memory_limit: str = "2GB") -> dict[str, Any]:
    from leadbridge.engine.custom import lit

    out_dir.mkdir(parents=True, exist_ok=True)
    start, cpu0 = time.perf_counter(), time.process_time()
    steps: dict[str, float] = {}

    def step(name: str, since: float) -> float:
        now = time.perf_counter()
        steps[name] = round(now - since, 2)
        steps[name + " hwm"] = int(peak_mb())
        return now

    con = connect(threads, memory_limit, keep_order=True)
    rec = con.sql(f"""
        SELECT id AS source_id,
          nullif(concat_ws(' ', nullif(trim(first_name), ''), nullif(trim(last_name), '')), '')
            AS contact_name,
          CASE WHEN lb_email_valid(email) THEN lb_email_key(email) END AS ekey,
          email AS contact_email, lb_phone_key(phone) AS pkey,
          lb_phone_clean(phone) AS contact_phone, stage AS stage_slug, owner AS owner_id,
          to_json({{'lead_source': lead_source, 'city': city, 'budget': budget,
                    'person_id': person_id}})::VARCHAR AS custom_fields,
          coalesce(epoch_us(try_cast(updated_at AS TIMESTAMPTZ)),
                   epoch_us(try_cast(created_at AS TIMESTAMPTZ)), 0) AS rec
        FROM read_csv({lit(path)}, all_varchar = true)""").to_arrow_table()
    t = step("read+keys", start)

    # the graph is built in id order (index i = the i-th smallest source_id), so labels,
    # cluster order and row_refs do not depend on the input's order
    by_id = pc.sort_indices(rec.column("source_id")).to_numpy()
    ranked = components(_ids(rec.column("ekey"))[by_id], _ids(rec.column("pkey"))[by_id])
    labels = np.empty_like(ranked)
    labels[by_id] = ranked
    t = step("components", t)

    newest = rec.column("rec").to_numpy()
    rank = np.empty_like(ranked)
    rank[by_id] = np.arange(len(by_id))
    order = np.lexsort((rank, -newest, labels))  # by cluster, newest first, ties by id
    sorted_labels = labels[order]
    first = np.r_[True, sorted_labels[1:] != sorted_labels[:-1]]
    cluster_of_sorted = np.cumsum(first) - 1
    clusters = int(cluster_of_sorted[-1]) + 1 if len(order) else 0
    reps = sorted_labels[first]  # each cluster's smallest record index, ascending

    def newest_with_value(has: np.ndarray) -> pa.Array:
        pos = np.flatnonzero(has[order])
        owner = cluster_of_sorted[pos]
        win = pos[np.r_[True, owner[1:] != owner[:-1]]] if len(pos) else pos
        index = np.full(clusters, -1, np.int64)
        index[cluster_of_sorted[win]] = order[win]
        return pa.array(index, mask=index < 0)

    golden: dict[str, Any] = {"first_id": pc.take(rec.column("source_id"),
                                                  pa.array(by_id[reps]))}
    email_at = newest_with_value(_valid(rec.column("ekey")))
    phone_at = newest_with_value(_valid(rec.column("pkey")))
    golden["contact_email"] = pc.take(rec.column("contact_email"), email_at)
    golden["contact_phone"] = pc.take(rec.column("contact_phone"), phone_at)
    for name in ("contact_name", "stage_slug", "owner_id", "custom_fields"):
        golden[name] = pc.take(rec.column(name), newest_with_value(_valid(rec.column(name))))
    golden["records"] = pa.array(np.diff(np.r_[np.flatnonzero(first), len(order)]))
    golden["sort_key"] = pa.array(np.arange(1, clusters + 1))
    t = step("merge", t)

    # batches of 100k rows, so DuckDB's scan of the Arrow table uses every thread
    golden_in = pa.Table.from_batches(pa.table(golden).to_batches(max_chunksize=100_000))
    con.register("golden_in", golden_in)
    table = con.sql("""
        WITH j AS (
          SELECT * EXCLUDE (first_id), 'lb_' || left(md5(first_id), 24) AS row_ref,
            concat_ws(',',
              '"contact_email":' || to_json(contact_email),
              '"contact_name":' || to_json(contact_name),
              '"contact_phone":' || to_json(contact_phone),
              '"custom_fields":' || custom_fields, '"owner_id":' || to_json(owner_id)) AS _a,
            '"stage_slug":' || to_json(stage_slug) AS _b
          FROM golden_in)
        SELECT * EXCLUDE (_a, _b),
          sha256('{' || concat_ws(',', _a, _b) || '}') AS content_hash,
          '{' || concat_ws(',', _a, '"row_ref":' || to_json(row_ref), _b) || '}' AS row_json
        FROM j""").to_arrow_table()  # insertion order kept: golden_in is in cluster order
    con.unregister("golden_in")
    t = step("json+hash", t)

    pq.write_table(table.drop_columns(["row_json"]), out_dir / "golden.parquet",
                   compression="snappy")
    cluster_of = np.empty(len(order), np.int64)
    cluster_of[order] = cluster_of_sorted
    lineage = pa.table({"source_id": rec.column("source_id"),
                        "row_ref": pc.take(table.column("row_ref"), pa.array(cluster_of))})
    pq.write_table(lineage, out_dir / "lineage.parquet", compression="snappy")
    t = step("parquet", t)

    _write_chunks(table.column("row_json"), out_dir / "chunks.jsonl")
    step("chunks", t)
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu0,
            "clusters": clusters, "largest": int(golden["records"].to_numpy().max()),
            "steps": steps}


def _write_chunks(rows: pa.ChunkedArray, path: Path, step: int = 500) -> None:
    """chunks.jsonl as floor_dedupe writes it: 500 rows per body, sha256 idempotency keys."""
    col = rows.combine_chunks()
    with open(path, "wb") as fh:
        for first in range(0, len(col), 200_000):
            write_bodies(fh, col.slice(first, 200_000), step)
