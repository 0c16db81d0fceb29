"""Helpers shared by bench/mx_resolve.py (Metaxy side) and bench/run.py (our side): the increment digest."""

from __future__ import annotations

import hashlib

DIGEST_PARTS = ("new", "stale", "orphaned")


def increment_digest(df, id_cols: list[str]) -> str:
    """Order-independent digest of the (id columns, metaxy_provenance) pairs of one increment part.

    Each row becomes the line "<id1>\\t<id2>...\\t<metaxy_provenance>" (ids rendered with polars' String cast, so
    UInt64 0 and Int64 0 and JSON 0 all give "0"); the lines are sorted and sha256 is taken over them joined by
    "\\n". Returns the first 16 hex digits plus the row count, e.g. "3f2a...:100000". An empty part is "empty:0".
    """
    import polars as pl

    n = df.height
    if n == 0:
        return "empty:0"
    cols = [pl.col(c).cast(pl.String).fill_null("<null>") for c in id_cols]
    cols.append(pl.col("metaxy_provenance").cast(pl.String).fill_null("<null>"))
    lines = df.select(pl.concat_str(cols, separator="\t").alias("k"))["k"].sort()
    joined = lines.str.join("\n").item()
    return f"{hashlib.sha256(joined.encode()).hexdigest()[:16]}:{n}"
