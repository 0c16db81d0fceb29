#!/usr/bin/env python
"""Check, with REAL Metaxy 0.1.11, that a metadata store is read exactly as expected.

    python mx_check.py --scenario-dir DIR (--expected EXP_DIR | --dump OUT_DIR)
                       [--features all|KEY,...] [--ignore-timestamps] [--store NAME]
                       [--check reads,raw,increments[,schema,system]] [--max-diff-rows N]

DIR is laid out like a kit fixture scenario (fixtures/<backend>/<scenario>/):
    DIR/metaxy.toml           store paths may use ${METAXY_FIXTURE_DIR:-.}; METAXY_FIXTURE_DIR is set to DIR
                              and the working directory is DIR while Metaxy runs
    DIR/<package>/            feature package named by `entrypoints` in metaxy.toml (e.g. example_overview/)
    DIR/store/                the store (written by real Metaxy or by metaxy-tui)

EXP_DIR is laid out like a fixture's expected/ directory (only these parts are used):
    reads/<table>.json        default read            store.read(key)
    raw/<table>.json          every physical row      store.read(key, with_feature_history=True,
                                                                 with_sample_history=True, include_soft_deleted=True)
    increments/<table>.json   store.resolve_update(key) -> {"added","changed","removed"} (non-root features)
    system_feature_versions.json   (only with --check system) rows of metaxy-system/feature_versions
    reads_index.json          optional; a feature whose entry is {"error": ...} must be ABSENT from the store
Large-N Parquet goldens are accepted too (reads/<table>.parquet, increments/<table>/<part>.parquet).

Checked features = every <table> that has a file in EXP_DIR (restricted by --features). Rows are compared as
multisets of JSON-canonical rows (column order and row order do not matter; column sets must match).

Checks (--check, default reads,raw,increments):
    reads        default read rows == reads/<table>
    raw          raw rows == raw/<table>
    increments   resolve_update added / changed / removed == increments/<table> (one check per part)
    schema       Polars schema of the default and raw reads == "polars_schema" recorded in reads/ and raw/
    system       system table rows == system_feature_versions.json

--ignore-timestamps replaces every non-null value of metaxy_created_at, metaxy_updated_at, metaxy_deleted_at
(and recorded_at / deleted_at in the system table) by "<timestamp>" before comparing: only null vs non-null is kept.

--dump OUT_DIR writes what Metaxy reads (reads/, raw/, increments/, reads_index.json, increments_index.json,
system_feature_versions.json) in the same JSON format as the kit's expected files, instead of comparing.
--ignore-timestamps does not apply to dumps.

Output: one JSON object on stdout: {"checks": n, "passed": n, "failures": [...], "checked": [...], ...}
(anything Metaxy prints goes to stderr). Exit status: 0 all checks passed, 1 at least one failure (including
"the store cannot be opened/read"), 2 usage or setup error (bad arguments, missing files, Metaxy not installed,
config or feature package cannot be loaded, expected dir has nothing to check).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import traceback
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # keep scenario feature packages free of __pycache__
sys.path.insert(0, str(HERE))

ALL_CHECKS = ("reads", "raw", "increments", "schema", "system")
DEFAULT_CHECKS = ("reads", "raw", "increments")
TS_COLS = ("metaxy_created_at", "metaxy_updated_at", "metaxy_deleted_at")
SYSTEM_TS_COLS = ("recorded_at", "deleted_at")
TS_PLACEHOLDER = "<timestamp>"
RAW_KW = dict(with_feature_history=True, with_sample_history=True, include_soft_deleted=True)


class SetupError(Exception):
    """Usage / environment problem -> exit 2."""


# ----------------------------------------------------------------------------------------------------------
# row canonicalisation / comparison
# ----------------------------------------------------------------------------------------------------------
def normalise(rows: list[dict], ignore_ts: bool, ts_cols: tuple[str, ...]) -> list[dict]:
    if not ignore_ts:
        return rows
    out = []
    for r in rows:
        r = dict(r)
        for c in ts_cols:
            if c in r and r[c] is not None:
                r[c] = TS_PLACEHOLDER
        out.append(r)
    return out


def canon(row: dict) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def compare_rows(actual: list[dict], expected: list[dict], max_rows: int) -> dict | None:
    """None when equal as multisets, else a diagnostic dict."""
    ca, ce = Counter(map(canon, actual)), Counter(map(canon, expected))
    if ca == ce:
        return None
    missing = ce - ca
    unexpected = ca - ce
    cols_a = set().union(*(r.keys() for r in actual)) if actual else set()
    cols_e = set().union(*(r.keys() for r in expected)) if expected else set()
    diag: dict[str, Any] = {
        "expected_count": len(expected),
        "actual_count": len(actual),
        "missing_count": sum(missing.values()),
        "unexpected_count": sum(unexpected.values()),
    }
    if actual and expected and cols_a != cols_e:
        diag["missing_columns"] = sorted(cols_e - cols_a)
        diag["unexpected_columns"] = sorted(cols_a - cols_e)
    diag["missing_rows"] = [json.loads(k) for k in list(missing.elements())[:max_rows]]
    diag["unexpected_rows"] = [json.loads(k) for k in list(unexpected.elements())[:max_rows]]
    return diag


# ----------------------------------------------------------------------------------------------------------
# expected files
# ----------------------------------------------------------------------------------------------------------
def load_rows_file(exp: Path, kind: str, table: str, jsonable, pl) -> dict | None:
    """{"rows": [...], "polars_schema": {...}|None} or None when there is no golden for this table."""
    j = exp / kind / f"{table}.json"
    if j.exists():
        obj = json.loads(j.read_text())
        return {"rows": obj["rows"], "polars_schema": obj.get("polars_schema"), "file": str(j)}
    p = exp / kind / f"{table}.parquet"
    if p.exists():
        df = pl.read_parquet(p)
        summ = exp / kind / f"{table}.summary.json"
        schema = json.loads(summ.read_text()).get("polars_schema") if summ.exists() else None
        return {"rows": [jsonable(r) for r in df.to_dicts()], "polars_schema": schema, "file": str(p)}
    return None


def load_increment_file(exp: Path, table: str, jsonable, pl) -> dict | None:
    j = exp / "increments" / f"{table}.json"
    if j.exists():
        obj = json.loads(j.read_text())
        return {part: obj[part] for part in ("added", "changed", "removed")} | {"file": str(j)}
    d = exp / "increments" / table
    if d.is_dir() and (d / "added.parquet").exists():
        out: dict[str, Any] = {"file": str(d)}
        for part in ("added", "changed", "removed"):
            out[part] = [jsonable(r) for r in pl.read_parquet(d / f"{part}.parquet").to_dicts()]
        return out
    return None


def tables_with_goldens(exp: Path) -> set[str]:
    found = set()
    for kind in ("reads", "raw"):
        if not (exp / kind).is_dir():
            continue
        for f in (exp / kind).iterdir():
            if f.name.endswith(".summary.json"):
                continue
            if f.suffix in (".json", ".parquet"):
                found.add(f.stem)
    inc = exp / "increments"
    if inc.is_dir():
        for f in inc.iterdir():
            if f.suffix == ".json" and not f.name.endswith(".summary.json"):
                found.add(f.stem)
            elif f.is_dir():
                found.add(f.name)
    return found


# ----------------------------------------------------------------------------------------------------------
# Metaxy environment
# ----------------------------------------------------------------------------------------------------------
def import_metaxy():
    try:
        import metaxy_lab_shim  # local copy of the kit's shim (offline hashfuncs stand-in)

        metaxy_lab_shim.install()
        import narwhals  # noqa: F401
        import polars as pl
        import metaxy as mx
        from metaxy.config import MetaxyConfig
        from metaxy.metadata_store.system import FEATURE_VERSIONS_KEY
        from metaxy.models.feature import FeatureGraph

        import mx_common
    except ImportError as e:
        raise SetupError(f"cannot import Metaxy ({e}); run tests/roundtrip/setup_venv.sh and use its python") from e
    if mx.__version__ != "0.1.11":
        print(f"mx_check: warning: metaxy {mx.__version__} (expected 0.1.11)", file=sys.stderr)
    return dict(pl=pl, mx=mx, MetaxyConfig=MetaxyConfig, FeatureGraph=FeatureGraph,
                FEATURE_VERSIONS_KEY=FEATURE_VERSIONS_KEY, common=mx_common, shim=metaxy_lab_shim)


def load_config_and_graph(sdir: Path, env: dict):
    MetaxyConfig, FeatureGraph = env["MetaxyConfig"], env["FeatureGraph"]
    toml = sdir / "metaxy.toml"
    if not toml.exists():
        raise SetupError(f"{toml} does not exist")
    try:
        cfg = MetaxyConfig.load(toml, search_parents=False)
    except Exception as e:
        raise SetupError(f"cannot load {toml}: {type(e).__name__}: {e}") from e
    entrypoints = list(cfg.entrypoints or [])
    if not entrypoints:
        raise SetupError(f"{toml} lists no entrypoints (feature modules)")
    tops = {m.split(".")[0] for m in entrypoints}
    for m in [m for m in sys.modules if m.split(".")[0] in tops]:
        del sys.modules[m]
    sys.path.insert(0, str(sdir))
    g = FeatureGraph()
    try:
        with g.use():
            for m in entrypoints:
                importlib.import_module(m)
    except Exception as e:
        raise SetupError(f"cannot import feature package {entrypoints} from {sdir}: {type(e).__name__}: {e}") from e
    finally:
        sys.path.remove(str(sdir))
    FeatureGraph.set_active(g)
    return cfg, g


# ----------------------------------------------------------------------------------------------------------
# main work
# ----------------------------------------------------------------------------------------------------------
class Run:
    def __init__(self, args, env, cfg, graph):
        self.args, self.env, self.cfg, self.g = args, env, cfg, graph
        self.common = env["common"]
        self.checks = 0
        self.failures: list[dict] = []
        self.checked: list[str] = []
        keys = [k.to_string() for k in graph.topological_sort_features()]
        self.order = keys
        self.table_of = {k.to_string(): k.table_name for k in graph.topological_sort_features()}
        self.key_of_table = {t: k for k, t in self.table_of.items()}

    # -- helpers ------------------------------------------------------------------------------------------
    def rows(self, frame) -> list[dict]:
        c = self.common
        return [c.jsonable(r) for r in c.to_polars(frame).to_dicts()]

    def record(self, name: str, feature: str | None, diag: dict | None, message: str = "") -> None:
        self.checks += 1
        self.checked.append(name)
        if diag is not None:
            self.failures.append({"check": name, "feature": feature, "message": message or "rows differ", **diag})

    def fail(self, name: str, feature: str | None, message: str) -> None:
        self.record(name, feature, {}, message)

    def is_root(self, key: str) -> bool:
        return not self.g.get_feature_plan(key).deps

    def selected(self, candidates: list[str]) -> list[str]:
        if self.args.features == "all":
            return candidates
        want = []
        for tok in [t.strip() for t in self.args.features.split(",") if t.strip()]:
            key = tok if tok in self.table_of else self.key_of_table.get(tok)
            if key is None:
                raise SetupError(f"--features: unknown feature {tok!r}; known: {', '.join(self.order)}")
            want.append(key)
        return [k for k in self.order if k in want]

    # -- compare mode -------------------------------------------------------------------------------------
    def compare(self, st, exp: Path) -> None:
        pl, jsonable = self.env["pl"], self.common.jsonable
        checks = self.args.checks
        ign = self.args.ignore_timestamps
        mx_rows = self.args.max_diff_rows
        tables = tables_with_goldens(exp)
        unknown = sorted(t for t in tables if t not in self.key_of_table)
        if unknown:
            raise SetupError(f"expected dir has goldens for tables not in the feature graph: {unknown}")
        absent = {}
        idx = exp / "reads_index.json"
        if idx.exists():
            for k, v in json.loads(idx.read_text()).items():
                if isinstance(v, dict) and "error" in v and k in self.table_of:
                    absent[k] = v["error"]
        candidates = [k for k in self.order if self.table_of[k] in tables or k in absent]
        feats = self.selected(candidates)
        if self.args.features != "all":
            missing = [k for k in feats if k not in candidates]
            if missing:
                raise SetupError(f"--features: no goldens in {exp} for {missing}")
        work = 0
        if "system" in checks:
            sysf = exp / "system_feature_versions.json"
            if not sysf.exists():
                raise SetupError(f"--check system but {sysf} does not exist")
            work += 1
            gold = normalise(json.loads(sysf.read_text())["rows"], ign, SYSTEM_TS_COLS)
            try:
                rows = normalise(self.rows(st.read(self.env["FEATURE_VERSIONS_KEY"], with_feature_history=True)),
                                 ign, SYSTEM_TS_COLS)
                self.record("system", None, compare_rows(rows, gold, mx_rows))
            except Exception as e:
                self.fail("system", None, f"read failed: {type(e).__name__}: {e}")
        for key in feats:
            table = self.table_of[key]
            if key in absent:
                for kind, kw in (("reads", {}), ("raw", RAW_KW)):
                    if kind not in checks:
                        continue
                    work += 1
                    try:
                        n = self.common.to_polars(st.read(key, **kw)).height
                        self.fail(f"{kind}:{key}", key, f"expected the feature to be absent ({absent[key]}) "
                                  f"but Metaxy read {n} rows")
                    except Exception:
                        self.record(f"{kind}:{key}", key, None)
                continue
            frames: dict[str, Any] = {}
            for kind, kw in (("reads", {}), ("raw", RAW_KW)):
                want_rows = kind in checks
                want_schema = "schema" in checks
                if not (want_rows or want_schema):
                    continue
                gold = load_rows_file(exp, kind, table, jsonable, pl)
                if gold is None:
                    continue
                try:
                    df = self.common.to_polars(st.read(key, **kw))
                    err = None
                except Exception as e:
                    df, err = None, f"read failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                frames[kind] = df
                if want_rows:
                    work += 1
                    if err:
                        self.fail(f"{kind}:{key}", key, err)
                    else:
                        rows = normalise([jsonable(r) for r in df.to_dicts()], ign, TS_COLS)
                        self.record(f"{kind}:{key}", key,
                                    compare_rows(rows, normalise(gold["rows"], ign, TS_COLS), mx_rows))
                if want_schema and gold.get("polars_schema") is not None:
                    work += 1
                    if err:
                        self.fail(f"schema:{kind}:{key}", key, err)
                    else:
                        got = {k: str(v) for k, v in df.schema.items()}
                        exp_s = gold["polars_schema"]
                        if got != exp_s:
                            self.record(f"schema:{kind}:{key}", key, {
                                "expected_schema": {k: v for k, v in exp_s.items() if got.get(k) != v},
                                "actual_schema": {k: v for k, v in got.items() if exp_s.get(k) != v},
                            }, "Polars schema differs")
                        else:
                            self.record(f"schema:{kind}:{key}", key, None)
            if "increments" in checks:
                gold = load_increment_file(exp, table, jsonable, pl)
                if gold is None:
                    continue
                work += 1
                try:
                    inc = st.resolve_update(key)
                    parts, _ = self.common.increment_frames(self.g, key, inc)
                except Exception as e:
                    self.fail(f"increments:{key}", key, f"resolve_update failed: {type(e).__name__}: {e}")
                    continue
                for part in ("added", "changed", "removed"):
                    rows = normalise([jsonable(r) for r in parts[part].to_dicts()], ign, TS_COLS)
                    self.record(f"increments:{key}:{part}", key,
                                compare_rows(rows, normalise(gold[part], ign, TS_COLS), mx_rows))
        if work == 0:
            raise SetupError(f"nothing to check: {exp} has no goldens for checks {','.join(checks)}"
                             + ("" if self.args.features == "all" else f" and features {self.args.features}"))

    # -- dump mode ----------------------------------------------------------------------------------------
    def dump(self, st, out: Path) -> None:
        c = self.common
        feats = self.selected(list(self.order))

        def write_json(path: Path, obj: Any) -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")

        def rows_file(rel: str, df, sort_by: list[str], summary: dict) -> dict:
            df = c.sort_rows_frame(df, sort_by)
            rows = [c.jsonable(r) for r in df.to_dicts()]
            write_json(out / f"{rel}.json", {"count": len(rows), **summary, "rows": rows})
            return {"file": f"expected/{rel}.json", "count": len(rows)}

        index: dict[str, Any] = {}
        try:
            sysdf = c.to_polars(st.read(self.env["FEATURE_VERSIONS_KEY"], with_feature_history=True))
            sysdf = c.sort_rows_frame(sysdf, ["recorded_at", "feature_key"])
            sys_rows = [c.jsonable(r) for r in sysdf.to_dicts()]
            write_json(out / "system_feature_versions.json", {"count": len(sys_rows), "schema": {
                k: str(v) for k, v in sysdf.schema.items()}, "rows": sys_rows})
            index["system_feature_versions"] = "expected/system_feature_versions.json"
            self.checked.append("dump:system")
        except Exception as e:
            index["system_feature_versions"] = {"error": f"{type(e).__name__}: {e}"}
        inc_index: dict[str, Any] = {}
        for key in feats:
            table = self.table_of[key]
            ids = c.id_cols(self.g, key)
            try:
                default = c.to_polars(st.read(key))
                raw = c.to_polars(st.read(key, **RAW_KW))
            except Exception as e:
                index[key] = {"error": f"{type(e).__name__}: {e}"}
                continue
            sch = {k: str(v) for k, v in raw.schema.items()}
            index[key] = {
                "default_read": rows_file(f"reads/{table}", default, ids, {
                    "feature": key, "read_args": "defaults (current feature version, latest per id, soft-deleted "
                    "excluded)", "polars_schema": sch}),  # kit: raw schema in both
                "raw_table": rows_file(f"raw/{table}", raw, ids, {
                    "feature": key, "read_args": "with_feature_history=True, with_sample_history=True, "
                    "include_soft_deleted=True", "polars_schema": sch}),
            }
            self.checked += [f"dump:reads:{key}", f"dump:raw:{key}"]
            if self.is_root(key):
                continue
            try:
                inc = st.resolve_update(key)
                parts, _ = c.increment_frames(self.g, key, inc)
            except Exception as e:
                inc_index[key] = {"error": f"{type(e).__name__}: {e}"}
                continue
            plan = self.g.get_feature_plan(key)
            summary = {
                "feature": key,
                "feature_version": self.g.get_feature_version(key),
                "id_columns": ids,
                "comparison_columns": plan.input_id_columns or ids,
                "counts": {k: v.height for k, v in parts.items()},
                "note": "resolve_update(feature) on this store as-is",
            }
            write_json(out / "increments" / f"{table}.json",
                       {**summary, **{k: [c.jsonable(r) for r in v.to_dicts()] for k, v in parts.items()}})
            inc_index[key] = {"file": f"expected/increments/{table}.json", **summary["counts"]}
            self.checked.append(f"dump:increments:{key}")
        write_json(out / "reads_index.json", index)
        write_json(out / "increments_index.json", inc_index)


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="mx_check.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario-dir", required=True, type=Path, help="scenario dir (metaxy.toml, feature package, store/)")
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--expected", type=Path, help="expected dir (reads/, raw/, increments/ ...) to compare against")
    mode.add_argument("--dump", type=Path, metavar="OUT_DIR", help="write what Metaxy reads into OUT_DIR instead")
    ap.add_argument("--features", default="all", help="'all' (default) or comma list of feature keys "
                    "(example/crop) or table names (example__crop)")
    ap.add_argument("--ignore-timestamps", action="store_true",
                    help="compare metaxy_created_at/updated_at/deleted_at only as null vs non-null")
    ap.add_argument("--store", default=None, help="store name in metaxy.toml (default: the config's `store`)")
    ap.add_argument("--check", default=",".join(DEFAULT_CHECKS),
                    help=f"comma list of {','.join(ALL_CHECKS)} (default {','.join(DEFAULT_CHECKS)})")
    ap.add_argument("--max-diff-rows", type=int, default=3, help="rows shown per missing/unexpected list (default 3)")
    args = ap.parse_args(argv)
    args.checks = [c.strip() for c in args.check.split(",") if c.strip()]
    bad = [c for c in args.checks if c not in ALL_CHECKS]
    if bad or not args.checks:
        ap.error(f"--check: unknown {bad}; choose from {','.join(ALL_CHECKS)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    real_stdout = sys.stdout
    result: dict[str, Any] = {"checks": 0, "passed": 0, "failures": []}
    code = 0
    try:
        sdir = args.scenario_dir.resolve()
        if not sdir.is_dir():
            raise SetupError(f"--scenario-dir {sdir} is not a directory")
        exp = args.expected.resolve() if args.expected else None
        if exp is not None and not exp.is_dir():
            raise SetupError(f"--expected {exp} is not a directory")
        out = args.dump.resolve() if args.dump else None
        # a clean, reproducible Metaxy environment: no METAXY_* overrides from the caller
        for k in [k for k in os.environ if k.startswith("METAXY_") and not k.startswith("METAXY_FIXTURE_")]:
            del os.environ[k]
        os.environ["METAXY_FIXTURE_DIR"] = str(sdir)
        os.chdir(sdir)
        warnings.filterwarnings("ignore")
        with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the JSON summary only
            env = import_metaxy()
            cfg, graph = load_config_and_graph(sdir, env)
            run = Run(args, env, cfg, graph)
            store_name = args.store or cfg.store
            if store_name not in cfg.stores:
                raise SetupError(f"--store {store_name!r} not in metaxy.toml (have {sorted(cfg.stores)})")
            result.update({"mode": "dump" if out else "compare", "scenario_dir": str(sdir), "store": store_name,
                           "expected": str(exp) if exp else None, "dump": str(out) if out else None,
                           "check": args.checks, "ignore_timestamps": args.ignore_timestamps})
            try:
                store = cfg.get_store(store_name)
                cm = store.open("r")
                st = cm.__enter__()
            except Exception as e:
                run.fail("open_store", None, f"cannot open store {store_name!r}: {type(e).__name__}: {e}")
                st = None
            if st is not None:
                try:
                    if out is not None:
                        out.mkdir(parents=True, exist_ok=True)
                        run.dump(st, out)
                    else:
                        run.compare(st, exp)
                finally:
                    cm.__exit__(None, None, None)
            result["duckdb_hashfuncs_shim_used"] = bool(env["shim"].SHIM_USED)
        result["checks"] = run.checks
        result["passed"] = run.checks - len(run.failures)
        result["failures"] = run.failures
        result["checked"] = run.checked
        code = 1 if run.failures else 0
    except SetupError as e:
        result["error"] = str(e)
        code = 2
    except Exception as e:  # unexpected crash inside the checker itself
        result["error"] = f"internal error: {type(e).__name__}: {e}"
        result["traceback"] = traceback.format_exc()
        code = 2
    real_stdout.write(json.dumps(result, indent=2, default=str) + "\n")
    real_stdout.flush()
    return code


if __name__ == "__main__":
    rc = main()
    sys.stderr.flush()
    # Skip interpreter finalisation: lancedb/pyarrow background threads can abort the process at exit
    # ("PyGILState_Release ... finalizing"), which would turn a clean result into exit status 134.
    os._exit(rc)
