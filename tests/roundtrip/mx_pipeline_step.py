"""Real Metaxy 0.1.11 as one step of a pipeline: `resolve_update` of `example/crop` on the default store of a
scenario directory, then `write` of its new and stale samples with the user column the fixtures' pipeline adds
(`crop_path`), exactly as the reference kit's `cascade` does. Used by the TUI live-refresh test (another process
writes the store while metaxy-tui has it open).

    usage: mx_pipeline_step.py SCENARIO_DIR
Prints `wrote N` on stdout; exit status 0 on success.
"""
import contextlib
import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
warnings.filterwarnings("ignore")

import mx_check  # noqa: E402


def main() -> int:
    sdir = Path(sys.argv[1]).resolve()
    for k in [k for k in os.environ if k.startswith("METAXY_") and not k.startswith("METAXY_FIXTURE_")]:
        del os.environ[k]
    os.environ["METAXY_FIXTURE_DIR"] = str(sdir)
    os.chdir(sdir)
    with contextlib.redirect_stdout(sys.stderr):
        env = mx_check.import_metaxy()
        cfg, _graph = mx_check.load_config_and_graph(sdir, env)
        pl, to_polars = env["pl"], env["common"].to_polars
        with cfg.get_store(cfg.store).open("w") as st:
            inc = st.resolve_update("example/crop")
            new, stale = to_polars(inc.new), to_polars(inc.stale)
            todo = pl.concat([new, stale], how="diagonal_relaxed") if stale.height else new
            todo = todo.with_columns(crop_path=pl.format("crops/{}.mp4", pl.col("sample_uid")))
            st.write("example/crop", todo)
    print(f"wrote {todo.height}")
    return 0


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)
