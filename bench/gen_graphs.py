#!/usr/bin/env python
"""Build benchmark stores for `resolve_update` with REAL Metaxy 0.1.11 (the pinned venv of tests/roundtrip).

    PY=$(tests/roundtrip/setup_venv.sh | tail -n1)
    nice -n 19 $PY bench/gen_graphs.py --graph simple|wide --rows N --backend duckdb|delta|postgres|iceberg|clickhouse
                                       --out DIR
                                       [--hash xxhash64] [--seed 42] [--mutation-fraction 0.1]
                                       [--mutate-append all|changed] [--map-datatype] [--chunk-rows 1000000]
                                       [--force]

The graphs are the ones of the Metaxy paper (anam-org/metaxy, publications/2026-introducing-metaxy/_graphs.py):

    simple   bench/simple_root (fields audio, frames)                       -> bench/simple_leaf (prediction)
    wide     bench/wide_root_0, bench/wide_root_1 (audio, frames, optical_flow, embedding each)
                                                                             -> bench/wide_leaf (prediction_a, prediction_b)

Data follows the paper's test_benchmark.py: `sample_uid` UInt64 0..N-1, per root field a provenance string
"<first letter of the field><random int in [0, 2**20]>" (numpy, seed + root index), written with
`store.write(root, df)` (Metaxy computes `metaxy_provenance`). Hash algorithm xxhash64 as in the paper (override with
--hash). Everything is built as vectorised polars frames.

Two phases, each a scenario dir laid out like tests/fixtures/<backend>/<scenario>/ (metaxy.toml with
${METAXY_FIXTURE_DIR:-.} paths, the feature package `metaxy_paper_benchmark/`, `store/`):

    DIR/new/     graph pushed (SystemTableStorage.push_graph_snapshot = `metaxy push`), roots written,
                 leaf has no table: every sample is new.
    DIR/stale/   copy of new/, then the leaf is materialised with resolve_update(leaf).new, then the `audio`
                 provenance of exactly round(N * fraction) samples of the first root is bumped (suffix "_bumped")
                 by APPENDING root rows: the whole root frame again with the bumped values (--mutate-append all,
                 the paper's seed_stale) or only the bumped rows (--mutate-append changed). So resolve_update(leaf)
                 returns round(N * fraction) stale samples, 0 new, 0 orphaned.

PostgreSQL (`--backend postgres`): one database per phase on the test server (`tests/services/postgres.sh start`;
METAXY_BENCH_PG overrides postgresql://postgres@127.0.0.1:55432), named mxbench_<hash of DIR>_<phase>; stale/ is a
`CREATE DATABASE ... TEMPLATE` copy of new/. Iceberg (`--backend iceberg`): pyiceberg's SQL catalog in DIR/<phase>/store;
its catalog and metadata hold absolute paths, so stale/ is rebuilt (same push, same frames) instead of copied. Neither
has unsigned integers, so there `sample_uid` is Int64 (Metaxy fails on UInt64: `type "uint8" does not exist` on
PostgreSQL, "cannot safely cast" on Iceberg).

ClickHouse (`--backend clickhouse`): Metaxy's `ClickHouseMetadataStore` (Ibis + clickhouse-connect over HTTP), one
database per phase on the server of METAXY_BENCH_CH (default clickhouse://default@127.0.0.1:18123, the test engine of
`tests/services/clickhouse.sh start`: ClickHouse 26.9 in-process via chDB behind an HTTP front), named like the
PostgreSQL ones. stale/ starts as a copy of new/ made in ClickHouse SQL: per table ClickHouse's own `SHOW CREATE
TABLE`, then `INSERT ... SELECT *` in storage order (single-threaded), so every row, column type and value (timestamps
included) is the one Metaxy wrote (checked: row count and the sum of per-row hashes of all columns, per table).
`sample_uid` stays UInt64 (Metaxy creates `Nullable(UInt64)`). A cached DIR whose databases are gone from the server
is rebuilt. Metaxy resolves there with its native ClickHouse engine (the store's default: hashes and joins in ClickHouse SQL), not with Polars.
The generator re-executes itself with PYTHONHASHSEED=0 for this backend, as tests/fixtures/gen/gen_clickhouse.py
does: the column order of the tables Metaxy creates follows Python set order.

DuckDB and Delta stores resolve with Metaxy's Polars versioning engine: the Delta store always does (it rejects a
`versioning_engine` key), the DuckDB store gets `versioning_engine = "polars"` (the DuckDB native engine needs the `hashfuncs` community extension,
which cannot be downloaded offline; the DuckDB store still tries to install it on open, so the shim from
tests/roundtrip/metaxy_lab_shim.py is installed). DIR/gen_meta.json records the parameters, the expected counts and
the timings of every step. With an existing DIR/gen_meta.json whose parameters match, nothing is rebuilt
(unless --force).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROUNDTRIP = HERE.parent / "tests" / "roundtrip"
sys.dont_write_bytecode = True
sys.path.insert(0, str(ROUNDTRIP))

GEN_VERSION = 1  # bump when the generated data changes, so that cached stores are rebuilt
PROJECT = "metaxy_paper_benchmark"
PKG = PROJECT  # Metaxy takes a feature's project from its top-level package name
WIDE_FIELDS = ("audio", "frames", "optical_flow", "embedding")

GRAPHS = {
    "simple": {
        "roots": {"bench/simple_root": ("audio", "frames")},
        "leaf": "bench/simple_leaf",
        "leaf_fields": ("prediction",),
    },
    "wide": {
        "roots": {"bench/wide_root_0": WIDE_FIELDS, "bench/wide_root_1": WIDE_FIELDS},
        "leaf": "bench/wide_leaf",
        "leaf_fields": ("prediction_a", "prediction_b"),
    },
}

STORE_TOML = {
    "duckdb": """\
[stores.dev]
type = "metaxy.ext.duckdb.DuckDBMetadataStore"

[stores.dev.config]
database = "${{METAXY_FIXTURE_DIR:-.}}/store/metadata.duckdb"
hash_algorithm = "{hash}"
versioning_engine = "polars"
""",
    "delta": """\
[stores.dev]
type = "metaxy.ext.polars.handlers.delta.DeltaMetadataStore"

[stores.dev.config]
root_path = "${{METAXY_FIXTURE_DIR:-.}}/store"
hash_algorithm = "{hash}"
""",
    # One database per (store, phase) on the test server (tests/services/postgres.sh); METAXY_BENCH_PG overrides it.
    "postgres": """\
[stores.dev]
type = "metaxy.ext.postgresql.PostgreSQLMetadataStore"

[stores.dev.config]
connection_string = "${{METAXY_BENCH_PG:-postgresql://postgres@127.0.0.1:55432}}/{db}"
hash_algorithm = "{hash}"
""",
    # One database per (store, phase) on the ClickHouse server (tests/services/clickhouse.sh); METAXY_BENCH_CH
    # overrides it. Metaxy's default versioning engine there is the native (ClickHouse SQL) one.
    "clickhouse": """\
[stores.dev]
type = "metaxy.ext.clickhouse.ClickHouseMetadataStore"

[stores.dev.config]
connection_string = "${{METAXY_BENCH_CH:-clickhouse://default@127.0.0.1:18123}}/{db}"
hash_algorithm = "{hash}"
""",
    # pyiceberg's default SQL catalog in SQLite: <warehouse>/catalog.db.
    "iceberg": """\
[stores.dev]
type = "metaxy.ext.polars.handlers.iceberg.IcebergMetadataStore"

[stores.dev.config]
warehouse = "${{METAXY_FIXTURE_DIR:-.}}/store"
hash_algorithm = "{hash}"
""",
}

PG_SERVER = os.environ.get("METAXY_BENCH_PG", "postgresql://postgres@127.0.0.1:55432")
PG_BIN = os.environ.get("METAXY_TUI_PG_BIN", "/usr/lib/postgresql/15/bin")
CH_SERVER = os.environ.get("METAXY_BENCH_CH", "clickhouse://default@127.0.0.1:18123")
# Variables of this harness (server overrides) that survive the METAXY_* clean-up before Metaxy loads a config.
KEEP_ENV = ("METAXY_BENCH_PG", "METAXY_BENCH_CH")


def pg_db(out: Path, phase: str) -> str:
    """The PostgreSQL / ClickHouse database of one phase of an output dir: `mxbench_<hash of the dir>_<phase>`."""
    import hashlib

    return f"mxbench_{hashlib.sha256(str(out).encode()).hexdigest()[:10]}_{phase}"


def psql(sql: str) -> None:
    import subprocess

    subprocess.run([f"{PG_BIN}/psql", f"{PG_SERVER}/postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True)


def ch(sql: str) -> str:
    """One statement over ClickHouse's HTTP interface (the server of METAXY_BENCH_CH); returns the response body."""
    import urllib.parse
    import urllib.request

    u = urllib.parse.urlsplit(CH_SERVER)
    scheme = "https" if u.scheme == "https" or "secure=true" in u.query else "http"
    req = urllib.request.Request(f"{scheme}://{u.hostname}:{u.port or 8123}/?{urllib.parse.urlencode({'query': sql})}",
                                 data=b"", method="POST")
    req.add_header("X-ClickHouse-User", urllib.parse.unquote(u.username or "default"))
    if u.password:
        req.add_header("X-ClickHouse-Key", urllib.parse.unquote(u.password))
    with urllib.request.urlopen(req) as r:
        return r.read().decode()


# rows in the order Metaxy's inserts stored them: parts by their first block number, rows by offset in the part
CH_STORAGE_ORDER = "toUInt64OrZero(splitByChar('_', _part)[2]), _part_offset"


def ch_copy_db(src: str, dst: str) -> dict[str, int]:
    """Copy every table of ClickHouse database `src` into a fresh `dst`: ClickHouse's own `SHOW CREATE TABLE`, then
    `INSERT ... SELECT *` in storage order, single-threaded. Returns the row count per table; row count and the sum of
    per-row hashes of every column's text are checked equal between the two."""
    import re

    ch(f"DROP DATABASE IF EXISTS `{dst}`")
    ch(f"CREATE DATABASE `{dst}`")
    rows = {}
    for t in [t for t in ch(f"SELECT name FROM system.tables WHERE database = '{src}' ORDER BY name FORMAT TSVRaw")
              .splitlines() if t]:
        create = ch(f"SHOW CREATE TABLE `{src}`.`{t}` FORMAT TSVRaw").rstrip("\n")
        create, k = re.subn(rf"^CREATE TABLE `?{re.escape(src)}`?\.", f"CREATE TABLE `{dst}`.", create)
        if k != 1:
            raise RuntimeError(f"unexpected SHOW CREATE TABLE for {src}.{t}: {create[:200]}")
        ch(create)
        ch(f"INSERT INTO `{dst}`.`{t}` SELECT * FROM `{src}`.`{t}` ORDER BY {CH_STORAGE_ORDER} "
           "SETTINGS max_threads = 1, max_insert_threads = 1")
        # exactness: row count and an order-independent sum of per-row hashes of every column's text
        check = "SELECT count(), sum(cityHash64(formatRow('TabSeparated', *))) FROM `{}`.`{}` FORMAT TSVRaw"
        got_src, got_dst = (ch(check.format(d, t)).strip() for d in (src, dst))
        if got_src != got_dst:
            raise RuntimeError(f"copy of {src}.{t} differs: (rows, row-hash sum) {got_dst}, expected {got_src}")
        rows[t] = int(got_dst.split()[0])
    return rows


def toml_text(backend: str, hash_algo: str, map_datatype: bool, db: str = "") -> str:
    head = (
        f'project = "{PROJECT}"\n'
        f'entrypoints = ["{PKG}.features"]\n'
        "auto_create_tables = true\n"
        + ("enable_map_datatype = true\n" if map_datatype else "")
        + 'store = "dev"\n\n'
    )
    return head + STORE_TOML[backend].format(hash=hash_algo, db=db)


def class_name(key: str) -> str:
    return "".join(p.capitalize() for p in key.split("/")[-1].split("_"))


def features_source(graph: str) -> str:
    g = GRAPHS[graph]
    lines = [
        f'"""Metaxy paper benchmark graph "{graph}" (publications/2026-introducing-metaxy/_graphs.py)."""',
        "",
        "import metaxy as mx",
        "",
    ]
    roots = []
    for key, fields in g["roots"].items():
        cls = class_name(key)
        roots.append(cls)
        flds = ", ".join(f'mx.FieldSpec(key="{f}", code_version="1")' for f in fields)
        lines += [
            "",
            f"class {cls}(",
            "    mx.BaseFeature,",
            f'    spec=mx.FeatureSpec(key="{key}", fields=[{flds}], id_columns=("sample_uid",)),',
            "):",
            "    pass",
            "",
        ]
    leaf = g["leaf"]
    deps = ", ".join(f"mx.FeatureDep(feature={r})" for r in roots) if graph == "wide" else roots[0]
    flds = ", ".join(f'mx.FieldSpec(key="{f}", code_version="1")' for f in g["leaf_fields"])
    lines += [
        "",
        f"class {class_name(leaf)}(",
        "    mx.BaseFeature,",
        "    spec=mx.FeatureSpec(",
        f'        key="{leaf}",',
        f"        deps=[{deps}],",
        f"        fields=[{flds}],",
        '        id_columns=("sample_uid",),',
        "    ),",
        "):",
        "    pass",
        "",
    ]
    return "\n".join(lines)


def log(msg: str) -> None:
    print(f"[gen_graphs] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------------
# Metaxy environment
# ----------------------------------------------------------------------------------------------------------
def import_metaxy():
    import metaxy_lab_shim

    metaxy_lab_shim.install()
    warnings.filterwarnings("ignore")
    import metaxy as mx

    if mx.__version__ != "0.1.11":
        log(f"warning: metaxy {mx.__version__} (expected 0.1.11)")
    return mx


def load_scenario(sdir: Path):
    """Load DIR/metaxy.toml and import DIR/<PKG> into a fresh, active FeatureGraph."""
    from metaxy.config import MetaxyConfig
    from metaxy.models.feature import FeatureGraph

    for k in [k for k in os.environ if k.startswith("METAXY_") and k not in KEEP_ENV]:
        del os.environ[k]
    os.environ["METAXY_FIXTURE_DIR"] = str(sdir)
    cfg = MetaxyConfig.load(sdir / "metaxy.toml", search_parents=False)
    for m in [m for m in sys.modules if m == PKG or m.startswith(PKG + ".")]:
        del sys.modules[m]
    sys.path.insert(0, str(sdir))
    g = FeatureGraph()
    try:
        with g.use():
            importlib.import_module(f"{PKG}.features")
    finally:
        sys.path.remove(str(sdir))
    FeatureGraph.set_active(g)
    return cfg, g


# ----------------------------------------------------------------------------------------------------------
# data (vectorised)
# ----------------------------------------------------------------------------------------------------------
def root_frame(n: int, fields: tuple[str, ...], seed: int):
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    cols = {}
    for f in fields:
        vals = pl.Series(f, rng.integers(0, 2**20, size=n, endpoint=True, dtype=np.int64))
        cols[f] = pl.lit(f[0]) + vals.cast(pl.String)
    return pl.select(
        sample_uid=pl.int_range(0, n, dtype=pl.UInt64),
        metaxy_provenance_by_field=pl.struct(**cols),
    )


def mutate(df, fraction: float, seed: int, only_changed: bool):
    """Bump `audio` of exactly round(n * fraction) samples; return (frame to append, number bumped)."""
    import numpy as np
    import polars as pl

    n = df.height
    k = int(round(n * fraction))
    rng = np.random.default_rng(seed)
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, size=k, replace=False)] = True
    m = pl.Series("m", mask)
    pbf = pl.col("metaxy_provenance_by_field")
    out = df.with_columns(
        metaxy_provenance_by_field=pbf.struct.with_fields(
            pl.when(m).then(pbf.struct.field("audio") + "_bumped").otherwise(pbf.struct.field("audio")).alias("audio")
        )
    )
    if only_changed:
        out = out.filter(m)
    return out, k


def write_chunked(st, key: str, df, chunk_rows: int) -> int:
    """store.write in slices of chunk_rows rows (bounds Metaxy's write memory at 10M); returns the number of writes."""
    if chunk_rows <= 0 or df.height <= chunk_rows:
        st.write(key, df)
        return 1
    k = 0
    for off in range(0, df.height, chunk_rows):
        st.write(key, df.slice(off, chunk_rows))
        k += 1
    return k


def to_polars(frame):
    import narwhals as nw
    import polars as pl

    if frame is None:
        return pl.DataFrame()
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    return frame.to_polars()


# ----------------------------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------------------------
def params_of(args) -> dict:
    return {
        "gen_version": GEN_VERSION,
        "graph": args.graph,
        "rows": args.rows,
        "backend": args.backend,
        "hash_algorithm": args.hash,
        "seed": args.seed,
        "mutation_fraction": args.mutation_fraction,
        "mutate_append": args.mutate_append,
        "map_datatype": args.map_datatype,
        "versioning_engine": "polars",
        "project": PROJECT,
    }


def cached(out: Path, params: dict) -> bool:
    meta = out / "gen_meta.json"
    if not meta.exists():
        return False
    try:
        m = json.loads(meta.read_text())
    except Exception:
        return False
    ok = m.get("params") == params and m.get("complete") is True and (out / "new").is_dir() \
        and (out / "stale").is_dir()
    if ok and params["backend"] == "clickhouse":  # the store lives on the server: its databases must still be there
        want = sorted(m.get("databases", {}).values())
        try:
            have = ch("SELECT name FROM system.databases WHERE name IN ({}) ORDER BY name FORMAT TSVRaw".format(
                ", ".join(f"'{d}'" for d in want))).split()
            leaf = ch(f"SELECT count() FROM system.tables WHERE database = '{m['databases']['stale']}' "
                      f"AND name = '{m['leaf'].replace('/', '__')}' FORMAT TSVRaw").strip()
        except Exception as e:  # server down or unreachable: say so, then rebuild (which fails loudly if it is down)
            log(f"cannot check the cached ClickHouse databases ({e})")
            return False
        ok = bool(want) and have == want and leaf == "1"
        if not ok:
            log(f"cached gen_meta.json, but the ClickHouse databases {want} are missing or incomplete: rebuilding")
    return ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--graph", choices=sorted(GRAPHS), required=True)
    ap.add_argument("--rows", type=int, required=True, help="N root samples")
    ap.add_argument("--backend", choices=sorted(STORE_TOML), required=True)
    ap.add_argument("--out", type=Path, required=True, help="output dir (gets new/, stale/, gen_meta.json)")
    ap.add_argument("--hash", default="xxhash64", help="store hash_algorithm (paper: xxhash64)")
    ap.add_argument("--seed", type=int, default=42, help="root i uses seed+i; the mutation uses seed+777")
    ap.add_argument("--mutation-fraction", type=float, default=0.1)
    ap.add_argument("--mutate-append", choices=["all", "changed"], default="all",
                    help="append the whole bumped root frame (paper) or only the bumped rows")
    ap.add_argument("--map-datatype", action="store_true",
                    help="enable_map_datatype = true (the paper's metaxy.toml); default Struct mode")
    ap.add_argument("--chunk-rows", type=int, default=1_000_000,
                    help="write frames in store.write calls of at most this many rows (0: one call); the data is "
                    "the same, only the number of transactions / Delta commits changes")
    ap.add_argument("--force", action="store_true", help="rebuild even if a matching gen_meta.json exists")
    args = ap.parse_args(argv)

    out = args.out.resolve()
    params = params_of(args)
    if not args.force and cached(out, params):
        log(f"{out}: cached (gen_meta.json matches), nothing to do")
        print(json.dumps(json.loads((out / "gen_meta.json").read_text())["timings_s"]))
        return 0

    t_all = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str, t0: float) -> None:
        timings[name] = round(time.perf_counter() - t0, 3)
        log(f"{name}: {timings[name]} s")

    t0 = time.perf_counter()
    mx = import_metaxy()
    import polars as pl
    from metaxy.metadata_store.system.storage import SystemTableStorage

    lap("import_metaxy", t0)

    g = GRAPHS[args.graph]
    if out.exists():
        shutil.rmtree(out)
    new_dir = out / "new"
    (new_dir / "store").mkdir(parents=True)
    (new_dir / PKG).mkdir()
    (new_dir / PKG / "__init__.py").write_text('"""Metaxy paper benchmark features (generated by bench/gen_graphs.py)."""\n')
    (new_dir / PKG / "features.py").write_text(features_source(args.graph))
    (new_dir / "metaxy.toml").write_text(
        toml_text(args.backend, args.hash, args.map_datatype, pg_db(out, "new")))
    if args.backend == "postgres":
        for phase in ("new", "stale"):
            psql(f"DROP DATABASE IF EXISTS {pg_db(out, phase)}")
        psql(f"CREATE DATABASE {pg_db(out, 'new')}")
    if args.backend == "clickhouse":
        for phase in ("new", "stale"):
            ch(f"DROP DATABASE IF EXISTS `{pg_db(out, phase)}`")
        ch(f"CREATE DATABASE `{pg_db(out, 'new')}`")

    # ---- phase "new": push + roots --------------------------------------------------------------------------
    cfg, graph = load_scenario(new_dir)
    writes: dict[str, int] = {}
    t0 = time.perf_counter()
    frames = {key: root_frame(args.rows, fields, args.seed + i) for i, (key, fields) in enumerate(g["roots"].items())}
    if args.backend in ("postgres", "iceberg"):  # neither has unsigned integers (Metaxy would fail on UInt64)
        import polars as pl

        frames = {key: df.with_columns(pl.col("sample_uid").cast(pl.Int64)) for key, df in frames.items()}
    lap("build_root_frames", t0)
    with cfg.get_store("dev").open("w") as st:
        t0 = time.perf_counter()
        push = SystemTableStorage(st).push_graph_snapshot(project=PROJECT)
        lap("push", t0)
        for key, df in frames.items():
            t0 = time.perf_counter()
            writes[f"root:{key}"] = write_chunked(st, key, df, args.chunk_rows)
            lap(f"write_root:{key}", t0)
    project_version = graph.get_project_version(PROJECT)
    feature_versions = {k.to_string(): graph.get_feature_version(k) for k in graph.topological_sort_features()}

    # ---- phase "stale": copy, materialise leaf, bump 10% of root_0 audio ------------------------------------
    t0 = time.perf_counter()
    stale_dir = out / "stale"
    shutil.copytree(new_dir, stale_dir)
    if args.backend == "postgres":  # the store is the database: copy it
        psql(f"CREATE DATABASE {pg_db(out, 'stale')} TEMPLATE {pg_db(out, 'new')}")
        (stale_dir / "metaxy.toml").write_text(
            toml_text(args.backend, args.hash, args.map_datatype, pg_db(out, "stale")))
    copied_rows = None
    if args.backend == "clickhouse":  # the store is the database: copy its tables in ClickHouse
        copied_rows = ch_copy_db(pg_db(out, "new"), pg_db(out, "stale"))
        (stale_dir / "metaxy.toml").write_text(
            toml_text(args.backend, args.hash, args.map_datatype, pg_db(out, "stale")))
    lap("copy_new_to_stale", t0)
    if args.backend == "iceberg":
        # The catalog and the metadata files hold absolute paths: a copied warehouse would still point into new/.
        # Rebuild the phase "new" state in stale/ instead (same frames, same push).
        shutil.rmtree(stale_dir / "store")
        (stale_dir / "store").mkdir()
        t0 = time.perf_counter()
        cfg, graph = load_scenario(stale_dir)
        with cfg.get_store("dev").open("w") as st:
            SystemTableStorage(st).push_graph_snapshot(project=PROJECT)
            for key, df in frames.items():
                write_chunked(st, key, df, args.chunk_rows)
        lap("rewrite_new_into_stale", t0)
    cfg, graph = load_scenario(stale_dir)
    leaf = g["leaf"]
    root0 = next(iter(g["roots"]))
    with cfg.get_store("dev").open("w") as st:
        t0 = time.perf_counter()
        inc = st.resolve_update(leaf)
        leaf_rows = to_polars(inc.new)
        lap("resolve_leaf_for_materialisation", t0)
        t0 = time.perf_counter()
        writes[f"leaf:{leaf}"] = write_chunked(st, leaf, leaf_rows, args.chunk_rows)
        lap("write_leaf", t0)
        t0 = time.perf_counter()
        bumped, k = mutate(frames[root0], args.mutation_fraction, args.seed + 777, args.mutate_append == "changed")
        lap("build_mutation", t0)
        t0 = time.perf_counter()
        writes[f"bumped:{root0}"] = write_chunked(st, root0, bumped, args.chunk_rows)
        lap(f"append_bumped_root:{root0}", t0)
    timings["total"] = round(time.perf_counter() - t_all, 3)

    meta = {
        "complete": True,
        "params": params,
        "metaxy_version": mx.__version__,
        "polars_version": pl.__version__,
        "project_version": project_version,
        "feature_versions": feature_versions,
        "push": push._asdict() if hasattr(push, "_asdict") else str(push),
        "roots": list(g["roots"]),
        "leaf": leaf,
        "expected_counts": {
            "new": {"new": args.rows, "stale": 0, "orphaned": 0},
            "stale": {"new": 0, "stale": k, "orphaned": 0},
        },
        "rows_written": {
            "roots": {key: df.height for key, df in frames.items()},
            "leaf_stale_phase": leaf_rows.height,
            "bumped_root_append": bumped.height,
        },
        "chunk_rows": args.chunk_rows,
        "store_write_calls": writes,
        "databases": ({p: pg_db(out, p) for p in ("new", "stale")} if args.backend in ("postgres", "clickhouse")
                      else None),
        "copied_rows_new_to_stale": copied_rows,
        "timings_s": timings,
        "dirs": {"new": str(new_dir), "stale": str(stale_dir)},
    }
    (out / "gen_meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    print(json.dumps(timings))
    return 0


if __name__ == "__main__":
    if any(a.endswith("clickhouse") for a in sys.argv[1:]) and os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"  # column order of Metaxy-created ClickHouse tables follows set order
        os.execv(sys.executable, [sys.executable, *sys.argv])
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)
