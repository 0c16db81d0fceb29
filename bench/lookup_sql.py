#!/usr/bin/env python3
"""Lookup and one-row SQL on the bench stores (issue 19's benchmark; not a timed test).

For each store directory (a phase directory made by gen_graphs.py, e.g. bench/data/simple-1000000-duckdb/stale),
runs the metaxy-tui binary as a user would, from that directory:

  - lookup:  `metaxy-tui metadata lookup --id sample_uid=<N/2> --format json` (the sample's state and row in every
    feature of the graph: root, leaf and, on the wide graph, every upstream);
  - sql:     `metaxy-tui sql 'SELECT * FROM "<leaf>" WHERE sample_uid = <N/2>' --format json` (one row of the leaf
    through the read-only SQL layer, the feature as a view with Metaxy's read semantics).

Each command runs --repeat times; printed and written (--results, JSON plus a .md table): median and best wall
seconds of the whole process (start-up, config, store open and graph load included) and peak RSS. The answer is
checked: the lookup must name the sample in the leaf, the SQL must return exactly one row with that id.

  PY=$(tests/roundtrip/setup_venv.sh | tail -n1)
  LD_LIBRARY_PATH=/work/dist/lib $PY bench/lookup_sql.py --ours /work/dist/bin/metaxy-tui \\
      bench/data/simple-1000000-duckdb/stale bench/data/wide-1000000-delta/stale ...
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def measure(cmd: list[str], cwd: Path, repeat: int, check) -> dict:
    walls, rss = [], 0
    for _ in range(repeat):
        # the child's own peak RSS, from GNU time (absent: reported as 0)
        t = ["/usr/bin/time", "-f", "%M"] if Path("/usr/bin/time").exists() else []
        t0 = time.perf_counter()
        p = subprocess.run(t + cmd, cwd=cwd, capture_output=True)
        walls.append(time.perf_counter() - t0)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.decode()[-500:]}")
        if t:
            try:
                rss = max(rss, int(p.stderr.decode().strip().splitlines()[-1]))
            except (ValueError, IndexError):
                pass
        check(p.stdout.decode())
    return {"median_s": statistics.median(walls), "best_s": min(walls), "runs_s": walls, "peak_rss_mb": rss / 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stores", nargs="+", type=Path, help="phase directories made by gen_graphs.py")
    ap.add_argument("--ours", required=True, help="the metaxy-tui binary")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--results", type=Path, default=Path(__file__).parent / "results" / "lookup_sql.json")
    args = ap.parse_args()
    rows = []
    for sdir in args.stores:
        sdir = sdir.resolve()
        case = sdir.parent.name  # e.g. simple-1000000-duckdb
        graph, n, backend = case.split("-")
        n = int(n)
        leaf = f"bench/{graph}_leaf"
        uid = n // 2

        def check_lookup(out: str) -> None:
            doc = json.loads(out)
            if str(uid) not in json.dumps(doc) or leaf not in json.dumps(doc):
                raise RuntimeError(f"{case}: lookup does not show sample {uid} in {leaf}")

        def check_sql(out: str) -> None:
            doc = json.loads(out)
            recs = doc if isinstance(doc, list) else doc.get("rows", doc.get("data", []))
            if len(recs) != 1 or str(recs[0].get("sample_uid")) != str(uid):
                raise RuntimeError(f"{case}: SQL returned {str(doc)[:300]}")

        lk = measure([args.ours, "metadata", "lookup", "--id", f"sample_uid={uid}", "--format", "json"], sdir,
                     args.repeat, check_lookup)
        sq = measure([args.ours, "sql", f'SELECT * FROM "{leaf}" WHERE sample_uid = {uid}', "--format", "json"],
                     sdir, args.repeat, check_sql)
        row = {"case": case, "phase": sdir.name, "rows": n, "lookup": lk, "sql": sq}
        rows.append(row)
        print(f"{case}/{sdir.name}: lookup {lk['median_s']:.3f} s (best {lk['best_s']:.3f}, {lk['peak_rss_mb']:.0f} MB), "
              f"sql {sq['median_s']:.3f} s (best {sq['best_s']:.3f}, {sq['peak_rss_mb']:.0f} MB)", flush=True)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({"ours": args.ours, "repeat": args.repeat,
                                        "machine": " ".join(os.uname()), "load": os.getloadavg(),
                                        "results": rows}, indent=2) + "\n")
    md = ["| store | phase | rows | lookup median s | lookup best s | lookup peak RSS MB | SQL median s | SQL best s | SQL peak RSS MB |",
          "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['case']} | {r['phase']} | {r['rows']:,} | {r['lookup']['median_s']:.3f} | {r['lookup']['best_s']:.3f} | "
                  f"{r['lookup']['peak_rss_mb']:.0f} | {r['sql']['median_s']:.3f} | {r['sql']['best_s']:.3f} | {r['sql']['peak_rss_mb']:.0f} |")
    args.results.with_suffix(".md").write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
