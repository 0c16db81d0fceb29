#!/usr/bin/env python
"""One timed `resolve_update(feature)` with REAL Metaxy 0.1.11, in its own process (used by bench/run.py).

    PY bench/mx_resolve.py --scenario-dir DIR --feature KEY [--digest] [--store dev]

DIR is a scenario dir written by bench/gen_graphs.py (metaxy.toml, feature package, store/). Like
tests/roundtrip/mx_check.py it runs with cwd = DIR, METAXY_FIXTURE_DIR = DIR and no other METAXY_* variables, loads
the config and imports the feature package into a fresh FeatureGraph, installs the DuckDB hashfuncs shim, then:

    open_s      store.open("r")   (DuckDB: includes the failed `INSTALL hashfuncs FROM community` + shim)
    resolve_s   inc = store.resolve_update(feature)  (eager: Increment) and every part converted to polars
                (the paper's measure: resolve_update + collect_to_polars of the parts)

stdout: one JSON object {"import_s", "load_s", "open_s", "resolve_s", "counts": {new, stale, orphaned},
"maxrss_after_resolve_kb", "digests"?: {new, stale, orphaned}, "id_columns", "versioning_engine" (the store's
setting: auto / native / polars), "resolve_warnings" (e.g. Metaxy's PolarsMaterializationWarning when "auto" fell
back to Polars)}. maxrss_after_resolve_kb is the
process' peak RSS (getrusage) right after the resolve, before the optional digest. --digest adds the order-independent
(ids, metaxy_provenance) digests of bench_common.increment_digest (computed after the measurement).
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(HERE.parent / "tests" / "roundtrip"))
sys.path.insert(0, str(HERE))


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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario-dir", required=True, type=Path)
    ap.add_argument("--feature", required=True)
    ap.add_argument("--store", default=None)
    ap.add_argument("--digest", action="store_true")
    args = ap.parse_args()
    sdir = args.scenario_dir.resolve()
    for k in [k for k in os.environ if k.startswith("METAXY_") and k not in ("METAXY_BENCH_PG", "METAXY_BENCH_CH")]:
        del os.environ[k]
    os.environ["METAXY_FIXTURE_DIR"] = str(sdir)
    os.chdir(sdir)
    warnings.filterwarnings("ignore")
    out: dict = {}
    real_stdout = sys.stdout
    try:
        with contextlib.redirect_stdout(sys.stderr):
            t0 = time.perf_counter()
            import metaxy_lab_shim

            metaxy_lab_shim.install()
            import metaxy as mx
            from metaxy.config import MetaxyConfig
            from metaxy.models.feature import FeatureGraph

            out["metaxy_version"] = mx.__version__
            out["import_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            cfg = MetaxyConfig.load(sdir / "metaxy.toml", search_parents=False)
            tops = {m.split(".")[0] for m in cfg.entrypoints}
            for m in [m for m in sys.modules if m.split(".")[0] in tops]:
                del sys.modules[m]
            sys.path.insert(0, str(sdir))
            g = FeatureGraph()
            with g.use():
                for m in cfg.entrypoints:
                    importlib.import_module(m)
            sys.path.remove(str(sdir))
            FeatureGraph.set_active(g)
            ids = list(g.get_feature_definition(args.feature).spec.id_columns)
            store = cfg.get_store(args.store or cfg.store)
            out["load_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            with store.open("r") as st:
                out["open_s"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                with warnings.catch_warnings(record=True) as caught:  # a fallback to Polars warns
                    warnings.simplefilter("always")
                    inc = st.resolve_update(args.feature)
                    parts = {"new": to_polars(inc.new), "stale": to_polars(inc.stale),
                             "orphaned": to_polars(inc.orphaned)}
                out["resolve_s"] = time.perf_counter() - t0
                out["versioning_engine"] = getattr(st, "_versioning_engine", None)
                out["resolve_warnings"] = sorted({f"{w.category.__name__}: {str(w.message)[:200]}" for w in caught})
            out["maxrss_after_resolve_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            out["counts"] = {k: v.height for k, v in parts.items()}
            out["id_columns"] = ids
            out["duckdb_hashfuncs_shim_used"] = bool(metaxy_lab_shim.SHIM_USED)
            if args.digest:
                from bench_common import increment_digest

                t0 = time.perf_counter()
                out["digests"] = {k: increment_digest(v, ids) for k, v in parts.items()}
                out["digest_s"] = time.perf_counter() - t0
        out["process_inner_s"] = time.perf_counter() - T_START
        code = 0
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
        out["traceback"] = traceback.format_exc()
        code = 1
    real_stdout.write(json.dumps(out) + "\n")
    real_stdout.flush()
    return code


if __name__ == "__main__":
    rc = main()
    sys.stderr.flush()
    os._exit(rc)  # skip interpreter finalisation (background threads of pyarrow / deltalake)
