#!/usr/bin/env python
"""What REAL Metaxy 0.1.11 sees of every feature of a store, optionally after its own drop_feature_metadata.

    python mx_drop.py --scenario-dir DIR [--store NAME] [--drop KEY ...]

DIR is laid out like a fixture scenario (see mx_check.py). With --drop, Metaxy opens the store for writing and
calls `drop_feature_metadata(KEY)` for each KEY first (the reference our `metadata drop` is compared with).
Then, with the store opened for reading, it prints one JSON object on stdout:

    {"features": {KEY: {"has_feature": bool, "rows": int | null, "error": str | null}, ...},
     "system_rows": int}

for every feature of the graph: `has_feature(KEY)` (no fallback), the number of raw rows
`read(KEY, with_feature_history=True, with_sample_history=True, include_soft_deleted=True)` returns (null with
the error's class name when the read raises), and the number of rows of the system table (feature_versions).
Exit status: 0, or 2 on a setup error (printed as {"error": ...}).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(HERE))

import mx_check  # noqa: E402  (import_metaxy, load_config_and_graph, RAW_KW)


def main() -> int:
    ap = argparse.ArgumentParser(prog="mx_drop.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario-dir", required=True, type=Path)
    ap.add_argument("--store", default=None)
    ap.add_argument("--drop", nargs="*", default=[], metavar="KEY")
    args = ap.parse_args()
    real_stdout = sys.stdout
    try:
        sdir = args.scenario_dir.resolve()
        for k in [k for k in os.environ if k.startswith("METAXY_") and not k.startswith("METAXY_FIXTURE_")]:
            del os.environ[k]
        os.environ["METAXY_FIXTURE_DIR"] = str(sdir)
        os.chdir(sdir)
        warnings.filterwarnings("ignore")
        with contextlib.redirect_stdout(sys.stderr):
            env = mx_check.import_metaxy()
            cfg, graph = mx_check.load_config_and_graph(sdir, env)
            store = cfg.get_store(args.store or cfg.store)
            if args.drop:
                with store.open("w") as st:
                    for key in args.drop:
                        st.drop_feature_metadata(key)
            out: dict = {"features": {}}
            with store.open("r") as st:
                for fk in graph.topological_sort_features():
                    key = fk.to_string()
                    entry = {"has_feature": bool(st.has_feature(key)), "rows": None, "error": None}
                    try:
                        entry["rows"] = len(env["common"].to_polars(st.read(key, **mx_check.RAW_KW)))
                    except Exception as e:  # a missing table raises FeatureNotFoundError
                        entry["error"] = type(e).__name__
                    out["features"][key] = entry
                system = env["common"].to_polars(st.read(env["FEATURE_VERSIONS_KEY"], with_feature_history=True))
                out["system_rows"] = len(system)
        code = 0
    except Exception as e:
        out = {"error": f"{type(e).__name__}: {e}"}
        code = 2
    real_stdout.write(json.dumps(out, indent=2, sort_keys=True) + "\n")
    real_stdout.flush()
    return code


if __name__ == "__main__":
    rc = main()
    sys.stderr.flush()
    os._exit(rc)
