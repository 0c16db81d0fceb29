#!/usr/bin/env python3
"""Build 10M..100M-row stores of the bench's simple graph with OUR writer, in chunks (issue 21).

usage: gen_scale.py --rows N --backend duckdb|delta [--phases new,stale] [--chunk-rows 10000000] [--ours BIN] [--data-dir bench/data] [--scaffold-dir DIR]
                    [--seed 42] [--work-dir DIR] [--force]

Real Metaxy cannot build 100M rows on this machine (it holds whole frames in Polars), so the stores are written by
`metaxy-tui metadata write` (Metaxy's `write()`: provenance from `metaxy_provenance_by_field`, data versions,
feature and project versions, one transaction timestamp per call), chunk by chunk, with memory bounded by the chunk:

* scaffold: `metaxy.toml`, the feature package `metaxy_paper_benchmark/` and the store of the 1M scenario built by
  real Metaxy (`<scaffold-dir>/simple-1000000-<backend>/new/`) are copied, then both feature tables are dropped
  with `metaxy-tui metadata drop` (the system table with the pushed graph stays; Delta keeps empty tables);
* roots: chunks of `--chunk-rows` rows of `sample_uid` (UInt64 `start..end-1`) and `metaxy_provenance_by_field`
  {audio, frames} = "<first letter><random int in [0, 2^20]>" as in the paper (numpy `default_rng([seed, start])`
  per chunk, so the values depend on seed and chunk size), written as a parquet file into a temp dir under
  `--work-dir` (on /work, not /tmp) and appended with `metadata write bench/simple_root`; the file is deleted after;
* leaf (`stale` only): per root chunk (regenerated, deterministic), the chunk is written into a scratch store (a
  fresh copy of the dropped scaffold, same backend) where the leaf's increment is exactly those samples, all new
  (checked with `metadata status`); `metaxy-tui sql 'SELECT sample_uid, metaxy_provenance_by_field FROM
  increment."bench/simple_leaf"' -o leaf.parquet` gives the `metaxy_provenance_by_field` OUR engine computes from
  the roots' data versions (nothing of the hash recipe is re-implemented here), appended with `metadata write
  bench/simple_leaf`. A root's data versions depend only on its own provenance, so the rows equal those of the full
  store. (Not `metadata increment --global-filter "sample_uid >= A AND ..."`: range filters are not pushed into
  the reads, each call re-reads the whole root: ~10 s per call at 10M, hours at 100M.)
* bump (`stale` only): `audio` of every 10th sample (`sample_uid % 10 == 0`, the first round(0.1*N) of them) gets
  "_bumped" appended; only the bumped root rows are appended (like gen_graphs.py `--mutate-append changed`), in
  chunks. Expected increment: new 0, stale round(0.1*N), orphaned 0. `new` phase (roots only): new N, 0, 0.

Out: `<data-dir>/scale-simple-<N>-<backend>/{new,stale}/` laid out like the other scenario dirs, each with a
`gen_meta.json` (params, expected counts, seconds per step, the writer binary). With both phases, `stale` starts as
a copy of the finished `new`; with `--phases stale` alone the roots are written into `stale` directly (saves one
phase of disk at 100M). An existing phase dir with a matching gen_meta.json is kept unless `--force`.
Run it with the pinned venv (pyarrow, numpy): `PY=~/.cache/metaxy-tui-mx-venv/bin/python`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = "bench/simple_root"
LEAF = "bench/simple_leaf"
ROOT_FIELDS = ("audio", "frames")
HERE = Path(__file__).resolve().parent
DEFAULT_BIN = "/work/dist/bin-c60/metaxy-tui"
DEFAULT_LIB = "/work/dist/lib"


def log(msg: str) -> None:
    print(f"[gen_scale {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_rows(s: str) -> int:
    s = s.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1:], 1)
    return int(float(s[:-1] if mult > 1 else s) * mult)


def env_for(bin_path: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAXY_")}
    lib = os.environ.get("METAXY_TUI_LIB", DEFAULT_LIB)
    env["LD_LIBRARY_PATH"] = lib + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    return env


def run(bin_path: str, cwd: Path, *args: str, capture: bool = True) -> str:
    """Run the binary in a scenario dir; raise with its stderr on failure."""
    p = subprocess.run([bin_path, *args], cwd=cwd, env=env_for(bin_path), capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
    return p.stdout


def root_chunk(start: int, end: int, seed: int):
    """sample_uid start..end-1 and the paper's provenance strings; deterministic in (seed, start, end)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng([seed, start])
    cols = []
    for f in ROOT_FIELDS:
        vals = pa.array(rng.integers(0, 2**20, size=end - start, endpoint=True, dtype=np.int64)).cast(pa.string())
        cols.append(pc.binary_join_element_wise(pa.scalar(f[0]), vals, ""))
    uid = pa.array(np.arange(start, end, dtype=np.uint64))
    pbf = pa.StructArray.from_arrays(cols, names=list(ROOT_FIELDS))
    return pa.table({"sample_uid": uid, "metaxy_provenance_by_field": pbf})


def bumped_rows(tbl, n_bump: int):
    """The rows of a root chunk with sample_uid % 10 == 0 and sample_uid < 10 * n_bump, audio + "_bumped"."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    uid = tbl.column("sample_uid").to_numpy()
    mask = pa.array((uid % 10 == 0) & (uid < 10 * n_bump))
    sub = tbl.filter(mask)
    pbf = sub.column("metaxy_provenance_by_field").combine_chunks()
    audio = pc.binary_join_element_wise(pbf.field("audio"), pa.scalar("_bumped"), "")
    new_pbf = pa.StructArray.from_arrays([audio, pbf.field("frames")], names=list(ROOT_FIELDS))
    return pa.table({"sample_uid": sub.column("sample_uid"), "metaxy_provenance_by_field": new_pbf})


def write_parquet_and_append(bin_path: str, sdir: Path, tmp: Path, key: str, tbl, name: str) -> dict:
    import pyarrow.parquet as pq

    f = tmp / f"{name}.parquet"
    pq.write_table(tbl, f, compression="zstd")
    try:
        out = run(bin_path, sdir, "metadata", "write", key, "--input", str(f), "--format", "json")
    finally:
        f.unlink(missing_ok=True)
    try:
        return json.loads(out)
    except ValueError:
        return {"stdout": out[-500:]}


def leaf_chunk(bin_path: str, scratch: Path, pristine: Path, tbl, tmp: Path, name: str):
    """The leaf's rows for the samples of root chunk `tbl`, as OUR engine computes them.

    The root chunk is written into a scratch store (a fresh copy of the dropped scaffold, same backend), where
    the leaf's increment is exactly these samples, all new; `sql` writes that increment (`sample_uid`,
    `metaxy_provenance_by_field`) to parquet. A root's data versions depend only on its own
    `metaxy_provenance_by_field`, so the leaf rows equal those of the full store. Range filters are not pushed
    into the engine's reads (`--global-filter` re-reads the whole root per call), hence the scratch store.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(pristine, scratch)
    write_parquet_and_append(bin_path, scratch, tmp, ROOT, tbl, f"{name}_scratch_root")
    f = tmp / f"{name}_inc.parquet"
    q = (f'SELECT sample_uid, metaxy_provenance_by_field FROM increment."{LEAF}" '
         "WHERE kind = 'new' ORDER BY sample_uid")
    counts = json.loads(run(bin_path, scratch, "metadata", "status", LEAF, "--format", "json"))
    c = counts["features"][LEAF]
    want = (tbl.num_rows, 0, 0)
    if (c["missing"], c["stale"], c["orphaned"]) != want:
        raise RuntimeError(f"scratch increment of {name}: {c}; want new/stale/orphaned {want}")
    run(bin_path, scratch, "sql", q, "-o", str(f), "--format", "parquet")
    raw = pq.read_table(f)
    f.unlink(missing_ok=True)
    shutil.rmtree(scratch, ignore_errors=True)
    # plain types (the parquet may carry string views; Delta reads sample_uid back as int64)
    uid = raw.column("sample_uid").combine_chunks().cast(pa.uint64())
    pred = raw.column("metaxy_provenance_by_field").combine_chunks().field("prediction").cast(pa.string())
    if not np.array_equal(uid.to_numpy(), tbl.column("sample_uid").to_numpy()):
        raise RuntimeError(f"scratch increment of {name}: {raw.num_rows} rows, not the chunk's samples")
    pbf = pa.StructArray.from_arrays([pred], names=["prediction"])
    return pa.table({"sample_uid": uid, "metaxy_provenance_by_field": pbf})


def du(path: Path) -> int:
    p = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True)
    return int(p.stdout.split()[0]) if p.returncode == 0 else -1


def scaffold(src: Path, dst: Path, bin_path: str) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for name in ("metaxy.toml", "metaxy_paper_benchmark", "store"):
        s = src / name
        (shutil.copytree if s.is_dir() else shutil.copy2)(s, dst / name)
    for stale in dst.rglob("__pycache__"):
        shutil.rmtree(stale, ignore_errors=True)
    run(bin_path, dst, "metadata", "drop", ROOT, LEAF, "--yes")


def write_roots(bin_path, sdir, tmp, n, chunk_rows, seed, laps) -> None:
    t0 = time.time()
    for start in range(0, n, chunk_rows):
        end = min(n, start + chunk_rows)
        t = time.time()
        tbl = root_chunk(start, end, seed)
        write_parquet_and_append(bin_path, sdir, tmp, ROOT, tbl, f"root_{start}")
        log(f"{sdir}: roots [{start},{end}) in {time.time() - t:.1f} s")
    laps["roots_s"] = round(time.time() - t0, 2)


def write_leaf(bin_path, sdir, tmp, n, chunk_rows, seed, pristine, laps) -> None:
    t0 = time.time()
    inc_s = 0.0
    for start in range(0, n, chunk_rows):
        end = min(n, start + chunk_rows)
        t = time.time()
        tbl = leaf_chunk(bin_path, tmp / "scratch", pristine, root_chunk(start, end, seed), tmp, f"leaf_{start}")
        inc_s += time.time() - t
        write_parquet_and_append(bin_path, sdir, tmp, LEAF, tbl, f"leaf_{start}")
        del tbl
        log(f"{sdir}: leaf [{start},{end}) in {time.time() - t:.1f} s")
    laps["leaf_s"] = round(time.time() - t0, 2)
    laps["leaf_scratch_s"] = round(inc_s, 2)


def write_bump(bin_path, sdir, tmp, n, chunk_rows, seed, n_bump, laps) -> int:
    t0 = time.time()
    total = 0
    for start in range(0, min(n, 10 * n_bump), chunk_rows):
        end = min(n, start + chunk_rows)
        tbl = bumped_rows(root_chunk(start, end, seed), n_bump)
        total += tbl.num_rows
        if tbl.num_rows:
            write_parquet_and_append(bin_path, sdir, tmp, ROOT, tbl, f"bump_{start}")
        log(f"{sdir}: bumped {tbl.num_rows} of [{start},{end})")
    laps["bump_s"] = round(time.time() - t0, 2)
    if total != n_bump:
        raise RuntimeError(f"bumped {total} rows, want {n_bump}")
    return total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", required=True, type=parse_rows, help="N, e.g. 10m, 100_000_000")
    ap.add_argument("--backend", required=True, choices=["duckdb", "delta"])
    ap.add_argument("--phases", default="new,stale")
    ap.add_argument("--chunk-rows", type=parse_rows, default=10_000_000, help="rows per root write (default 10M)")
    ap.add_argument("--ours", default=DEFAULT_BIN, help="the metaxy-tui binary that writes (release build)")
    ap.add_argument("--data-dir", type=Path, default=HERE / "data")
    ap.add_argument("--scaffold-dir", type=Path, default=None,
                    help="dir holding simple-1000000-<backend>/new (default: --data-dir, else /work/main/bench/data)")
    ap.add_argument("--work-dir", type=Path, default=None, help="temp chunk files (default: <data-dir>/.tmp)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--force", action="store_true", help="rebuild phase dirs that exist")
    args = ap.parse_args(argv)
    args.data_dir = args.data_dir.resolve()

    phases = [p for p in args.phases.split(",") if p]
    if not set(phases) <= {"new", "stale"}:
        ap.error("--phases takes new and/or stale")
    n = args.rows
    n_bump = int(round(0.1 * n))
    bin_path = str(Path(args.ours).resolve())
    scaf_base = args.scaffold_dir
    if scaf_base is None:
        scaf_base = args.data_dir
        if not (scaf_base / f"simple-1000000-{args.backend}" / "new").is_dir():
            scaf_base = Path("/work/main/bench/data")
    scaf = scaf_base / f"simple-1000000-{args.backend}" / "new"
    if not (scaf / "metaxy.toml").is_file():
        ap.error(f"no scaffold at {scaf} (build it with gen_graphs.py --graph simple --rows 1000000)")
    out = args.data_dir / f"scale-simple-{n}-{args.backend}"
    out.mkdir(parents=True, exist_ok=True)
    work = (args.work_dir or (args.data_dir / ".tmp")).resolve()
    work.mkdir(parents=True, exist_ok=True)

    params = {"graph": "simple", "rows": n, "backend": args.backend, "seed": args.seed,
              "chunk_rows": args.chunk_rows, "bump": "sample_uid % 10 == 0",
              "hash": "xxhash64"}
    expected = {"new": {"new": n, "stale": 0, "orphaned": 0}, "stale": {"new": 0, "stale": n_bump, "orphaned": 0}}

    def cached(ph: str) -> bool:
        m = out / ph / "gen_meta.json"
        if args.force or not m.is_file():
            return False
        try:
            return json.loads(m.read_text()).get("params") == params
        except ValueError:
            return False

    todo = [p for p in phases if not cached(p)]
    if not todo:
        log(f"{out}: cached ({', '.join(phases)})")
        return 0
    with tempfile.TemporaryDirectory(dir=work, prefix="gen_scale_") as tmpd:
        tmp = Path(tmpd)
        t_all = time.time()
        laps: dict = {}
        first = "new" if "new" in todo else "stale"
        sdir = out / first
        for ph in todo:
            (out / ph / "gen_meta.json").unlink(missing_ok=True)
        t = time.time()
        pristine = tmp / "pristine"
        scaffold(scaf, pristine, bin_path)
        if sdir.exists():
            shutil.rmtree(sdir)
        shutil.copytree(pristine, sdir)
        laps["scaffold_s"] = round(time.time() - t, 2)
        write_roots(bin_path, sdir, tmp, n, args.chunk_rows, args.seed, laps)

        def meta(ph: str, ph_laps: dict) -> None:
            d = out / ph
            m = {"params": params, "expected": expected[ph], "laps": ph_laps,
                 "total_s": round(sum(v for k, v in ph_laps.items() if k != "leaf_scratch_s"), 2),
                 "writer": {"bin": bin_path, "version": run(bin_path, d, "--version").strip()},
                 "scaffold": str(scaf), "bytes": du(d / "store"),
                 "peak_rss_mb": {"largest_child": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
                                 "generator": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)},
                 "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            (d / "gen_meta.json").write_text(json.dumps(m, indent=2) + "\n")
            log(f"{d}: done, {m['bytes'] / 1e9:.2f} GB, {m['total_s']} s")

        if first == "new":
            meta("new", dict(laps))
        if "stale" in todo:
            sdir = out / "stale"
            if first == "new":
                t = time.time()
                if sdir.exists():
                    shutil.rmtree(sdir)
                shutil.copytree(out / "new", sdir)
                (sdir / "gen_meta.json").unlink(missing_ok=True)
                laps["copy_new_s"] = round(time.time() - t, 2)
            write_leaf(bin_path, sdir, tmp, n, args.chunk_rows, args.seed, pristine, laps)
            write_bump(bin_path, sdir, tmp, n, args.chunk_rows, args.seed, n_bump, laps)
            meta("stale", laps)
        log(f"{out}: {', '.join(todo)} built in {time.time() - t_all:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
