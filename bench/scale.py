#!/usr/bin/env python3
"""Scale harness (issue 21, "100M rows in bounded memory"): `metaxy-tui metadata status bench/simple_leaf` on the
10M..100M stores of the simple graph built by `bench/gen_scale.py`, counts checked against the counts known by
construction (the store's `gen_meta.json`).

usage: scale.py [--ours BIN] [--rows 10m,100m] [--backends duckdb,delta] [--phases new,stale] [--repeat 1]
                [--data-dir bench/data] [--results bench/results/scale.json] [--timeout S] [--merge]
                [--rss-limit-mb MB]

Per (N, backend, phase) present under `<data-dir>/scale-simple-<N>-<backend>/<phase>/` (missing ones are skipped
and listed), each repetition in a fresh process with cwd = the phase dir, `METAXY_TUI_TIMINGS=1`,
`LD_LIBRARY_PATH=$METAXY_TUI_LIB` (default /work/dist/lib): wall time, the in-process `timing status
bench/simple_leaf`, peak RSS (ru_maxrss of the child from wait4), which counts path ran (run.py's `counts_path`:
`duckdb` = `duckdb-counts`, `dense` = `dense-counts`, `ids` = `absent-target counts`, `engine` = our general
engine), every timing phase (JSON), and whether the counts equal the expected ones. Writes the JSON and a Markdown
table next to it (`.md`); with both 10M and 100M of a (backend, phase), the 100M row gets "x 10M" = its in-process
time / (10 x the 10M in-process time), i.e. 1.0 is linear. `--merge` keeps the results of other cases already in
the JSON (a 100M store may be measured, deleted, and the next one built). `--rss-limit-mb` kills a run whose RSS
passes the limit (polled every 0.2 s); the case is then reported as killed. Exit 1 if any count differs or a run
was killed.
Run it under `nice -n 10`; the children inherit the niceness.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import clean_env, counts_path, machine_info, parse_timings, pin_binary, tail  # noqa: E402

LEAF = "bench/simple_leaf"
DEFAULT_BIN = "/work/dist/bin-c60/metaxy-tui"


def log(msg: str) -> None:
    print(f"[scale] {msg}", file=sys.stderr, flush=True)


def parse_rows(s: str) -> list[int]:
    out = []
    for p in s.split(","):
        p = p.strip().lower().replace("_", "")
        if p:
            mult = {"k": 1_000, "m": 1_000_000}.get(p[-1:], 1)
            out.append(int(float(p[:-1] if mult > 1 else p) * mult))
    return out


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_measured(cmd: list[str], cwd: Path, env: dict, timeout: float, rss_limit_mb: float | None) -> dict:
    """run.py's run_measured plus a watchdog: the child is killed when it passes `rss_limit_mb` (polled every
    0.2 s) or `timeout` s, so a case that would not fit cannot push the shared machine into the OOM killer."""
    import subprocess
    import tempfile
    import threading
    import time

    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fo, stderr=fe)
        killed: list[str] = []
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.2):
                if time.perf_counter() - t0 > timeout:
                    killed.append(f"timeout {timeout} s")
                elif rss_limit_mb and rss_kb(p.pid) > rss_limit_mb * 1024:
                    killed.append(f"RSS above {rss_limit_mb:.0f} MB")
                if killed:
                    p.kill()
                    return

        w = threading.Thread(target=watch, daemon=True)
        w.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            done.set()
        wall = time.perf_counter() - t0
        fo.seek(0)
        fe.seek(0)
        return {"wall_s": wall, "rc": os.waitstatus_to_exitcode(status), "maxrss_kb": ru.ru_maxrss,
                "user_s": ru.ru_utime, "sys_s": ru.ru_stime, "killed": killed[0] if killed else None,
                "stdout": fo.read().decode(errors="replace"), "stderr": fe.read().decode(errors="replace")}


def one_run(bin_path: str, sdir: Path, timeout: float, rss_limit_mb: float | None = None) -> dict:
    env = clean_env(sdir)
    env["METAXY_TUI_TIMINGS"] = "1"
    lib = os.environ.get("METAXY_TUI_LIB", "/work/dist/lib")
    env["LD_LIBRARY_PATH"] = lib + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    la = os.getloadavg()[0]
    r = run_measured([bin_path, "metadata", "status", LEAF, "--format", "json"], sdir, env, timeout, rss_limit_mb)
    if r["killed"]:
        return {"wall_s": round(r["wall_s"], 3), "inproc_s": None, "maxrss_kb": r["maxrss_kb"], "killed": r["killed"],
                "user_s": r["user_s"], "sys_s": r["sys_s"], "loadavg_1m_before": la, "counts": None,
                "status": None, "store_rows": None, "counts_path": "-", "phases_ms": {}, "notes": [tail(r["stderr"])]}
    if r["rc"] != 0:
        raise RuntimeError(f"status failed rc={r['rc']}: {tail(r['stdout'])}\n{tail(r['stderr'])}")
    f = json.loads(r["stdout"])["features"][LEAF]
    phases, inproc = parse_timings(r["stderr"], LEAF)
    notes = [line for line in r["stderr"].splitlines() if line.startswith("timing-note") or " declined " in line]
    return {"wall_s": round(r["wall_s"], 3), "inproc_s": inproc, "maxrss_kb": r["maxrss_kb"],
            "user_s": r["user_s"], "sys_s": r["sys_s"], "loadavg_1m_before": la,
            "counts": {"new": f["missing"], "stale": f["stale"], "orphaned": f["orphaned"]},
            "status": f.get("status"), "store_rows": f.get("store_rows"), "counts_path": counts_path(phases, LEAF),
            "phases_ms": phases, "notes": notes}


def case(bin_path: str, out: Path, n: int, backend: str, phase: str, repeat: int, timeout: float,
         rss_limit_mb: float | None) -> dict:
    sdir = out / phase
    meta = json.loads((sdir / "gen_meta.json").read_text())
    runs = []
    for rep in range(repeat):
        r = one_run(bin_path, sdir, timeout, rss_limit_mb)
        runs.append(r)
        if r.get("killed"):
            log(f"{n} {backend} {phase} rep {rep}: KILLED ({r['killed']}) after {r['wall_s']:.1f} s, "
                f"rss {r['maxrss_kb'] / 1024:.0f} MB")
            break
        log(f"{n} {backend} {phase} rep {rep}: {r['wall_s']:.2f} s (in-process {r['inproc_s']} s), "
            f"rss {r['maxrss_kb'] / 1024:.0f} MB, counts {r['counts']}, path {r['counts_path']}")
    ok = all(r["counts"] == meta["expected"] for r in runs)
    if not ok:
        log(f"  COUNTS DIFFER: expected {meta['expected']}")
    inproc = [r["inproc_s"] for r in runs if r["inproc_s"] is not None]
    return {"rows": n, "backend": backend, "phase": phase, "dir": str(sdir), "expected": meta["expected"],
            "counts": runs[0]["counts"], "ok": ok, "killed": runs[-1].get("killed"), "counts_path": ",".join(sorted({r["counts_path"] for r in runs})),
            "median_wall_s": statistics.median(r["wall_s"] for r in runs),
            "median_inproc_s": statistics.median(inproc) if inproc else None,
            "peak_rss_mb": round(max(r["maxrss_kb"] for r in runs) / 1024, 1),
            "store_bytes": meta.get("bytes"), "gen": {k: meta.get(k) for k in ("params", "laps", "total_s", "writer")},
            "runs": runs}


def fmt(x, spec=".2f"):
    return "-" if x is None else format(x, spec)


def markdown(doc: dict) -> str:
    res = sorted(doc["results"], key=lambda r: (r["backend"], r["phase"], r["rows"]))
    by = {(r["backend"], r["phase"], r["rows"]): r for r in res}
    lines = [
        f"last run: `{doc['ours']}` ({doc.get('ours_version', '?')}); {doc['machine'].get('nproc')} cores, "
        f"{doc['machine'].get('mem_total_gb')} GB; niceness {doc['machine'].get('niceness')}; {doc['when']}",
        "",
        "| N | backend | phase | counts (new/stale/orphaned) | ok | counts path | wall s | status s (in-process) "
        "| x 10M | peak RSS MB | store GB | built in s | binary |",
        "|---:|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in res:
        c = r["counts"] or {"new": None, "stale": None, "orphaned": None}
        base = by.get((r["backend"], r["phase"], r["rows"] // 10)) if r["rows"] % 10 == 0 else None
        x10 = None
        if base and base["rows"] == 10_000_000 and base["median_inproc_s"] and r["median_inproc_s"]:
            x10 = r["median_inproc_s"] / (10 * base["median_inproc_s"])
        gb = r["store_bytes"] / 1e9 if r.get("store_bytes") else None
        counts = (" / ".join(f"{c[k]:,}" for k in ("new", "stale", "orphaned")) if r["counts"]
                  else f"killed: {r.get('killed')}")
        lines.append(
            f"| {r['rows']:,} | {r['backend']} | {r['phase']} | {counts} "
            f"| {'yes' if r['ok'] else ('-' if r.get('killed') else '**NO**')} | {r['counts_path']} "
            f"| {fmt(r['median_wall_s'])} "
            f"| {fmt(r['median_inproc_s'])} | {fmt(x10)} | {r['peak_rss_mb']:,.0f} | {fmt(gb)} "
            f"| {fmt((r.get('gen') or {}).get('total_s'), '.0f')} "
            f"| {Path(r.get('ours', doc['ours'])).parent.name} |"
        )
    lines += ["", "binary = the directory of the `metaxy-tui` measured (per row: `--merge` keeps rows of earlier runs).",
              "x 10M = in-process s / (10 x the 10M in-process s of the same backend and phase); 1.00 = linear.",
              "built in s = gen_scale.py's seconds for that phase dir (stale: the whole build, the roots of new included).",
              "counts path: `duckdb` = duckdb-counts, `dense` = dense-counts, `ids` = absent-target counts "
              "(no leaf rows yet), `engine` = our general engine."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", default=DEFAULT_BIN)
    ap.add_argument("--rows", default="10m,100m")
    ap.add_argument("--backends", default="duckdb,delta")
    ap.add_argument("--phases", default="new,stale")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--data-dir", type=Path, default=HERE / "data")
    ap.add_argument("--results", type=Path, default=HERE / "results" / "scale.json")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--rss-limit-mb", type=float, default=None,
                    help="kill a run whose RSS passes this (the case is reported as killed, not ok)")
    ap.add_argument("--merge", action="store_true", help="keep other cases already in --results")
    args = ap.parse_args(argv)
    args.data_dir = args.data_dir.resolve()  # METAXY_FIXTURE_DIR must not be relative to the phase dir (the cwd)

    import subprocess

    lib = os.environ.get("METAXY_TUI_LIB", "/work/dist/lib")
    ours = str(Path(args.ours).resolve())
    version = subprocess.run([ours, "--version"], capture_output=True, text=True,
                             env={**os.environ, "LD_LIBRARY_PATH": lib}).stdout.strip()
    pinned = pin_binary(ours)
    results, skipped = [], []
    for n in parse_rows(args.rows):
        for backend in [b for b in args.backends.split(",") if b]:
            out = args.data_dir / f"scale-simple-{n}-{backend}"
            for phase in [p for p in args.phases.split(",") if p]:
                if not (out / phase / "gen_meta.json").is_file():
                    skipped.append(f"{n}/{backend}/{phase}")
                    continue
                r = case(pinned, out, n, backend, phase, args.repeat, args.timeout, args.rss_limit_mb)
                r["ours"], r["ours_version"] = ours, version
                results.append(r)
    if skipped:
        log(f"not built (skipped): {', '.join(skipped)}")
    if args.merge and args.results.is_file():
        old = json.loads(args.results.read_text())
        have = {(r["rows"], r["backend"], r["phase"]) for r in results}
        results = [r for r in old.get("results", []) if (r["rows"], r["backend"], r["phase"]) not in have] + results
    doc = {"ours": ours, "ours_version": version, "when": _dt.datetime.now(_dt.timezone.utc).isoformat(
        timespec="seconds"), "machine": machine_info(), "repeat": args.repeat, "results": results}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(doc, indent=2) + "\n")
    md = markdown(doc)
    args.results.with_suffix(".md").write_text(md)
    print(md)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
