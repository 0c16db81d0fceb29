#!/usr/bin/env python
"""Physical floor of one `resolve_update(leaf)`: the time to read and hash, once, every column its increment needs.

    PY=$(tests/roundtrip/setup_venv.sh | tail -n1)
    nice -n 19 $PY bench/floor.py --scenario-dir bench/data/simple-1000000-duckdb/stale \\
        [--feature bench/simple_leaf] [--repeat 5] [--json]

    # from Python (bench/run.py does this for every DuckDB and Delta case)
    from floor import measure_floor
    res = measure_floor(Path(".../stale"), "bench/simple_leaf", repeat=3)   # res["floor_s"]: best wall seconds

SCENARIO_DIR is a phase dir written by bench/gen_graphs.py (`metaxy.toml` + `store/`; any dir with a DuckDB or Delta
store configured the same way works). --feature defaults to the one feature of the pushed graph that nothing
depends on. Only DuckDB (`DuckDBMetadataStore`) and Delta (`DeltaMetadataStore`, nested or flat layout) stores are
supported; any other store type raises `FloorUnsupported`.

Which columns (derived from the store, untimed): the pushed graph is read from the system table
`metaxy-system/feature_versions` (latest `feature_spec` per `feature_key`, FORMAT.md §3.1). For the leaf F and every
direct upstream dep U of F (FORMAT.md §6.2, §7.1):

* U: its id columns (after the dep's `rename`; plus lineage `on` columns), the members of
  `metaxy_data_version_by_field` that F's fields depend on (field-level parents, FORMAT.md §6.1: explicit field
  deps, `__METAXY_ALL_DEP__`, and the dep's `fields_mapping`: default = same struct key else all non-excluded,
  specific, all, none), `metaxy_feature_version` (current-version filter), `metaxy_updated_at` and
  `metaxy_deleted_at` (latest row per id, soft-delete removal);
* F (only when its table exists; the `new` phase has none): its id columns, `metaxy_provenance` (the comparison),
  `metaxy_feature_version`, `metaxy_updated_at`, `metaxy_deleted_at`.

A column missing from a table (e.g. an old table without `metaxy_deleted_at`) is skipped and listed in the result.
A dep with `sql_filters` raises `FloorUnsupported` (its filter columns are not derived here).

What one repetition times (wall clock, `time.perf_counter`), single process:

* DuckDB store: a fresh read-only connection to the file (opening it is NOT counted, as our timing excludes the
  store open), then ONE query that scans every table involved and folds every needed column into an aggregate:
  `bit_xor(hash(col))` per column, struct members addressed one by one (so every string is hashed exactly once
  with DuckDB's own hash; integer and timestamp columns are hashed too, which costs next to nothing, so that the
  scan cannot skip them), plus `count(*)`. Nothing is materialised in Python: a single row comes back.
* Delta store: the active parquet files of the current table version are listed with `deltalake` (untimed, like a
  store open), then two methods are timed and the FASTER one is the floor (both are in the result):
  `duckdb-parquet` = the same aggregate query over `read_parquet([files], union_by_name = true)` (DuckDB parallelises
  parquet by row group, and delta-rs writes one row group per file, so this uses one core per file) and
  `pyarrow+duckdb` = pyarrow's parquet reader (`pq.read_table(files, columns=...)`, column-parallel decode) then
  the same `bit_xor(hash(col))` aggregate by DuckDB over the Arrow table (zero-copy scan, split into batches of
  122,880 rows so that DuckDB runs it on every core). Read + hash are both inside the timed interval.

Counted: I/O from the OS page cache (warm after the first repetition), parquet / DuckDB decompression and decoding
of exactly these columns of every row (all rows, every version and duplicate, as a real reader must see them), and
one hash per value. NOT counted: the dedup to the latest row per id, the version and soft-delete filters, the join of
the upstreams, the per-field and per-sample provenance recipes and their hashes (which hash concatenations, not
single values), the comparison with the leaf, building any result; nor process start-up, config, graph loading or
the store open. It is a floor: no correct increment can be computed without at least this work, and a real one
does more. Result: best (minimum) of `repeat` repetitions, in seconds; every repetition is in `reps_s`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import tomllib
from pathlib import Path

TS_COLS = ("metaxy_updated_at", "metaxy_deleted_at")
FEATURE_VERSION = "metaxy_feature_version"
ALL_DEP = "__METAXY_ALL_DEP__"
SYSTEM_KEY = "metaxy-system/feature_versions"


class FloorUnsupported(Exception):
    """The store or the graph is outside what the floor measurement handles (message says what)."""


# ----------------------------------------------------------------------------------------------------------
# store config
# ----------------------------------------------------------------------------------------------------------
def _expand(value: str, sdir: Path) -> str:
    """`${VAR:-default}` / `${VAR}` interpolation as in metaxy.toml; METAXY_FIXTURE_DIR = the scenario dir."""

    def sub(m: re.Match) -> str:
        name, default = m.group(1), m.group(3) or ""
        if name == "METAXY_FIXTURE_DIR":
            return str(sdir)
        return os.environ.get(name, default)

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}", sub, value)


def store_config(sdir: Path) -> dict:
    """{"backend": "duckdb"|"delta", ...location} of the default store of SDIR/metaxy.toml."""
    cfg = tomllib.loads((sdir / "metaxy.toml").read_text())
    name = cfg.get("store", "dev")
    st = cfg["stores"][name]
    typ, conf = st["type"], st.get("config", {})
    if typ.endswith("DuckDBMetadataStore"):
        db = Path(_expand(conf["database"], sdir))
        return {"backend": "duckdb", "database": db if db.is_absolute() else sdir / db,
                "table_prefix": conf.get("table_prefix", "")}
    if typ.endswith("DeltaMetadataStore"):
        root = Path(_expand(conf["root_path"], sdir))
        return {"backend": "delta", "root": root if root.is_absolute() else sdir / root,
                "layout": conf.get("layout", "nested")}
    raise FloorUnsupported(f"floor: store type {typ} is not supported (DuckDB and Delta only)")


def table_name(key: str) -> str:
    return "__".join(p.replace("-", "_") for p in key.split("/"))


def delta_path(store: dict, key: str) -> Path:
    if store["layout"] == "flat":
        return store["root"] / f"{table_name(key)}.delta"
    parts = key.split("/")
    return store["root"].joinpath(*parts[:-1], parts[-1] + ".delta")


def delta_files(store: dict, key: str) -> list[str] | None:
    """Active data files of the current version of KEY's Delta table (deltalake), or None if there is no table."""
    from deltalake import DeltaTable

    path = delta_path(store, key)
    if not (path / "_delta_log").is_dir():
        return None
    return [u.removeprefix("file://") for u in DeltaTable(str(path)).file_uris()]


def q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def sql_list(files: list[str]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


# ----------------------------------------------------------------------------------------------------------
# graph -> columns
# ----------------------------------------------------------------------------------------------------------
def read_specs(store: dict) -> dict[str, dict]:
    """Latest `feature_spec` per feature key from the system table (FORMAT.md §3.1)."""
    import duckdb

    sql = ("SELECT feature_key, feature_spec FROM {src} QUALIFY row_number() OVER "
           "(PARTITION BY feature_key ORDER BY recorded_at DESC) = 1")
    if store["backend"] == "duckdb":
        con = duckdb.connect(str(store["database"]), read_only=True)
        try:
            rows = con.execute(sql.format(src=q(store["table_prefix"] + table_name(SYSTEM_KEY)))).fetchall()
        finally:
            con.close()
    else:
        files = delta_files(store, SYSTEM_KEY)
        if not files:
            raise FloorUnsupported(f"floor: no system table under {store['root']}")
        con = duckdb.connect()
        try:
            rows = con.execute(sql.format(src=f"read_parquet({sql_list(files)}, union_by_name = true)")).fetchall()
        finally:
            con.close()
    return {k: json.loads(s) for k, s in rows}


def struct_key(field_key: str) -> str:
    return "_".join(field_key.split("/"))


def parent_fields(leaf: dict, dep: dict, up: dict) -> list[str]:
    """Struct keys of upstream UP's fields that some field of LEAF depends on through DEP (FORMAT.md §6.1)."""
    ukey = dep["feature"]
    up_fields = [f["key"] for f in up["fields"]]
    need: set[str] = set()
    for f in leaf["fields"]:
        fdeps = f.get("deps") or []
        if fdeps == ALL_DEP:
            need.update(up_fields)
            continue
        if fdeps:
            for d in fdeps:
                if d["feature"] == ukey:
                    need.update(up_fields if d["fields"] == ALL_DEP else d["fields"])
            continue
        m = (dep.get("fields_mapping") or {}).get("mapping") or {"type": "default"}
        typ = m.get("type", "default")
        if typ == "all":
            need.update(up_fields)
        elif typ == "none":
            pass
        elif typ == "specific":
            for uf in (m.get("mapping") or {}).get(f["key"], []):
                uf = "/".join(uf) if isinstance(uf, list) else uf
                if uf in up_fields:
                    need.add(uf)
        else:  # default: same key (or suffix match), minus excluded; nothing matched -> all non-excluded
            excl = set(m.get("exclude_fields") or [])
            cands = [u for u in up_fields if u not in excl]
            if m.get("match_suffix"):
                same = [u for u in cands if u == f["key"] or u.endswith("/" + f["key"].split("/")[-1])]
            else:
                same = [u for u in cands if u == f["key"]]
            need.update(same or cands)
    return [struct_key(u) for u in up_fields if u in need]


def plan_columns(specs: dict[str, dict], leaf_key: str) -> list[dict]:
    """Per table involved: {"key", "role": "upstream"|"leaf", "plain": [cols], "struct": (col, [members])|None}."""
    if leaf_key not in specs:
        raise FloorUnsupported(f"floor: feature {leaf_key} is not in the pushed graph")
    leaf = specs[leaf_key]
    tables = []
    for dep in leaf.get("deps") or []:
        if dep.get("sql_filters"):
            raise FloorUnsupported(f"floor: dep {dep['feature']} has sql_filters (their columns are not derived)")
        up = specs[dep["feature"]]
        rename = dep.get("rename") or {}
        ids = list(up["id_columns"])  # stored names (rename applies after the read)
        rel = ((dep.get("lineage") or {}).get("relationship") or {})
        for c in rel.get("on") or []:
            orig = next((k for k, v in rename.items() if v == c), c)
            if orig not in ids:
                ids.append(orig)
        tables.append({"key": dep["feature"], "role": "upstream",
                       "plain": ids + [FEATURE_VERSION, *TS_COLS],
                       "struct": ("metaxy_data_version_by_field", parent_fields(leaf, dep, up))})
    tables.append({"key": leaf_key, "role": "leaf",
                   "plain": list(leaf["id_columns"]) + ["metaxy_provenance", FEATURE_VERSION, *TS_COLS],
                   "struct": None})
    return tables


def default_leaf(specs: dict[str, dict]) -> str:
    used = {d["feature"] for s in specs.values() for d in s.get("deps") or []}
    leaves = [k for k, s in specs.items() if s.get("deps") and k not in used]
    if len(leaves) != 1:
        raise FloorUnsupported(f"floor: give --feature (graph leaves: {sorted(leaves)})")
    return leaves[0]


# ----------------------------------------------------------------------------------------------------------
# SQL
# ----------------------------------------------------------------------------------------------------------
def agg_exprs(t: dict, schema: dict[str, str], alias: str) -> tuple[list[str], list[str], list[str]]:
    """(`bit_xor(hash(..))` aggregates, columns read, columns missing) of table T with SCHEMA {col: duckdb type}."""
    exprs, read, missing = [f"count(*) AS {alias}_rows"], [], []
    for c in t["plain"]:
        if c in schema:
            exprs.append(f"bit_xor(hash({q(c)}))")
            read.append(c)
        else:
            missing.append(c)
    if t["struct"]:
        col, members = t["struct"]
        typ = schema.get(col)
        if typ is None:
            missing.append(col)
        else:
            for m in members:
                if typ.upper().startswith("MAP"):
                    exprs.append(f"bit_xor(hash(map_extract({q(col)}, '{m}')[1]))")
                else:
                    exprs.append(f"bit_xor(hash(struct_extract({q(col)}, '{m}')))")
                read.append(f"{col}.{m}")
    return exprs, read, missing


def agg_query(parts: list[tuple[str, list[str]]]) -> str:
    """One statement scanning every (source, aggregates): a cross join of one-row aggregate subqueries."""
    subs = [f"(SELECT {', '.join(exprs)} FROM {src}) AS t{i}" for i, (src, exprs) in enumerate(parts)]
    return "SELECT * FROM " + ", ".join(subs)


def duck_schema(con, src: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}


# ----------------------------------------------------------------------------------------------------------
# measurement
# ----------------------------------------------------------------------------------------------------------
def _best(fn, repeat: int) -> tuple[float, list[float], object]:
    reps, out = [], None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        out = fn()
        reps.append(time.perf_counter() - t0)
    return min(reps), reps, out


def _floor_duckdb(store: dict, tables: list[dict], repeat: int) -> dict:
    import duckdb

    db = str(store["database"])
    con = duckdb.connect(db, read_only=True)
    try:
        existing = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        parts, info = [], []
        for i, t in enumerate(tables):
            name = store["table_prefix"] + table_name(t["key"])
            if name not in existing:
                info.append({"key": t["key"], "role": t["role"], "table": None})
                continue
            exprs, read, missing = agg_exprs(t, duck_schema(con, q(name)), f"t{i}")
            parts.append((q(name), exprs))
            info.append({"key": t["key"], "role": t["role"], "table": name, "columns": read, "missing": missing})
    finally:
        con.close()
    sql = agg_query(parts)

    def once():
        c = duckdb.connect(db, read_only=True)  # fresh buffer pool per repetition; opening is not timed
        try:
            t0 = time.perf_counter()
            row = c.execute(sql).fetchone()
            return time.perf_counter() - t0, row
        finally:
            c.close()

    reps, row = [], None
    for _ in range(max(1, repeat)):
        s, row = once()
        reps.append(s)
    return {"method": "duckdb", "floor_s": min(reps), "methods": {"duckdb": {"best_s": min(reps), "reps_s": reps}},
            "tables": info, "rows_read": _rows(row, parts), "sql": sql}


def _rows(row, parts) -> int | None:
    if row is None:
        return None
    total, i = 0, 0
    for _, exprs in parts:  # the first aggregate of every subquery is count(*)
        total += int(row[i])
        i += len(exprs)
    return total


def _floor_delta(store: dict, tables: list[dict], repeat: int) -> dict:
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    con = duckdb.connect()
    parts, info, arrow_parts = [], [], []
    for i, t in enumerate(tables):
        files = delta_files(store, t["key"])
        if not files:
            info.append({"key": t["key"], "role": t["role"], "table": None})
            continue
        src = f"read_parquet({sql_list(files)}, union_by_name = true)"
        schema = duck_schema(con, src)
        exprs, read, missing = agg_exprs(t, schema, f"t{i}")
        parts.append((src, exprs))
        top = list(dict.fromkeys(c.split(".")[0] for c in read))
        arrow_parts.append((f"a{i}", files, top, exprs))
        info.append({"key": t["key"], "role": t["role"], "table": str(delta_path(store, t["key"])),
                     "files": len(files), "columns": read, "missing": missing})
    sql = agg_query(parts)

    def duck_once():
        return con.execute(sql).fetchone()

    def arrow_once():
        # read (column-parallel decode) then hash in DuckDB over the Arrow columns; both inside the timed interval
        names, subs = {}, []
        for name, files, cols, exprs in arrow_parts:
            tbls = []
            for f in files:
                have = set(pq.read_schema(f).names)
                tbls.append(pq.read_table(f, columns=[c for c in cols if c in have], use_threads=True))
            tbl = pa.concat_tables(tbls, promote_options="default") if len(tbls) > 1 else tbls[0]
            names[name] = pa.Table.from_batches(tbl.to_batches(max_chunksize=122_880), schema=tbl.schema)
            subs.append((name, exprs))
        for name, tbl in names.items():
            con.register(name, tbl)
        try:
            return con.execute(agg_query(subs)).fetchone()
        finally:
            for name in names:
                con.unregister(name)

    try:
        d_best, d_reps, d_row = _best(duck_once, repeat)
        a_best, a_reps, a_row = _best(arrow_once, repeat)
    finally:
        con.close()
    if tuple(d_row) != tuple(a_row):
        raise RuntimeError(f"floor: the two Delta methods disagree: {d_row} vs {a_row}")
    method = "duckdb-parquet" if d_best <= a_best else "pyarrow+duckdb"
    return {"method": method, "floor_s": min(d_best, a_best),
            "methods": {"duckdb-parquet": {"best_s": d_best, "reps_s": d_reps},
                        "pyarrow+duckdb": {"best_s": a_best, "reps_s": a_reps}},
            "tables": info, "rows_read": _rows(d_row, parts), "sql": sql}


def measure_floor(sdir: Path, feature: str | None = None, repeat: int = 3) -> dict:
    """Floor of `resolve_update(feature)` on the store of scenario dir SDIR (see the module docstring).

    Returns {"backend", "feature", "floor_s" (best wall seconds), "method", "methods": {name: {"best_s",
    "reps_s"}}, "tables": [{"key", "role", "table", "columns", "missing", ...}], "rows_read", "repeat", "sql"}.
    Raises FloorUnsupported for other store types or graphs it cannot derive the columns of."""
    sdir = Path(sdir).resolve()
    store = store_config(sdir)
    specs = read_specs(store)
    feature = feature or default_leaf(specs)
    tables = plan_columns(specs, feature)
    if store["backend"] == "duckdb":
        res = _floor_duckdb(store, tables, repeat)
    else:
        res = _floor_delta(store, tables, repeat)
    return {"backend": store["backend"], "feature": feature, "repeat": repeat, **res}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario-dir", type=Path, required=True)
    ap.add_argument("--feature", default=None, help="leaf feature key (default: the graph's one leaf)")
    ap.add_argument("--repeat", type=int, default=5, help="repetitions; the floor is the best (default 5)")
    ap.add_argument("--json", action="store_true", help="print the whole result as JSON")
    args = ap.parse_args()
    try:
        res = measure_floor(args.scenario_dir, args.feature, args.repeat)
    except FloorUnsupported as e:
        print(str(e), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(res, indent=2, default=str))
    else:
        print(f"{res['feature']} ({res['backend']}): floor {res['floor_s']:.4f} s ({res['method']}, best of "
              f"{res['repeat']}), {res['rows_read']:,} rows read")
        for name, m in res["methods"].items():
            print(f"  {name}: best {m['best_s']:.4f} s, reps " + " ".join(f"{s:.4f}" for s in m["reps_s"]))
        for t in res["tables"]:
            cols = ", ".join(t.get("columns") or []) or "(no table)"
            miss = f"; missing: {', '.join(t['missing'])}" if t.get("missing") else ""
            print(f"  {t['role']} {t['key']}: {cols}{miss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
