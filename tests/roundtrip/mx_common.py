"""Helpers copied (verbatim or minimally adapted) from the Metaxy 0.1.11 reference kit's gen_fixtures.py.

Only what mx_check.py needs, so that nothing imports from /work/shared at run time:
  * METAXY_COLS / PROV_COLS       column lists used by the goldens
  * jsonable()                    value -> JSON-able form exactly as the goldens were written
  * to_polars()                   narwhals / polars frame -> polars.DataFrame
  * sort_rows_frame()             the sort order of gen_fixtures.Ctx.rows_file (for --dump)
  * increment_frames()            resolve_update() result -> {"added","changed","removed"} frames,
                                  with the same column selection as the goldens (kit: increment_frames(ctx, ...),
                                  here it takes the FeatureGraph directly)
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import narwhals as nw
import polars as pl

METAXY_COLS = [
    "metaxy_provenance_by_field",
    "metaxy_provenance",
    "metaxy_data_version_by_field",
    "metaxy_data_version",
    "metaxy_feature_version",
    "metaxy_project_version",
    "metaxy_created_at",
    "metaxy_updated_at",
    "metaxy_deleted_at",
    "metaxy_materialization_id",
]
PROV_COLS = ["metaxy_provenance_by_field", "metaxy_provenance", "metaxy_data_version_by_field", "metaxy_data_version"]


def jsonable(v: Any) -> Any:
    if isinstance(v, _dt.datetime):
        if v.tzinfo is None:
            return v.isoformat()
        return v.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(v, list) and v and all(isinstance(x, dict) and set(x) == {"key", "value"} for x in v):
        return {x["key"]: x["value"] for x in v}  # Map column materialised as list<struct<key,value>>
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    return v


def to_polars(frame) -> pl.DataFrame:
    if frame is None:
        return pl.DataFrame()
    if isinstance(frame, (pl.DataFrame, pl.LazyFrame)):
        return frame.collect() if isinstance(frame, pl.LazyFrame) else frame
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    return frame.to_polars()


def sort_rows_frame(df: pl.DataFrame, sort_by: list[str]) -> pl.DataFrame:
    """Sort like gen_fixtures.Ctx.rows_file (ids, then provenance / updated_at / deleted_at, nulls last)."""
    present = [c for c in sort_by if c in df.columns]
    extra = [c for c in ("metaxy_provenance", "metaxy_updated_at", "metaxy_deleted_at") if c in df.columns]
    if present and df.height:
        df = df.sort(present + extra, nulls_last=True)
    return df


def id_cols(graph, key: str) -> list[str]:
    return list(graph.get_feature_definition(key).spec.id_columns)


def increment_frames(graph, key: str, inc) -> tuple[dict[str, pl.DataFrame], list[str]]:
    ids = id_cols(graph, key)
    plan = graph.get_feature_plan(key)
    cmp_ids = plan.input_id_columns or ids
    cols = [*dict.fromkeys([*ids, *cmp_ids]), *PROV_COLS]
    sort_by = list(dict.fromkeys([*cmp_ids, *ids]))
    has_expansion = any(d.lineage.relationship.type.value == "1:N" for d in (plan.feature_deps or []))
    out = {}
    for part, frame in (("added", inc.new), ("changed", inc.stale), ("removed", inc.orphaned)):
        df = to_polars(frame)
        part_cols = cols
        if part == "removed" and has_expansion:
            # current rows are collapsed per parent with any_value(): only the comparison columns and the
            # provenance (identical for all children by contract) are deterministic
            part_cols = [*cmp_ids, "metaxy_provenance_by_field", "metaxy_provenance"]
        df = df.select([c for c in part_cols if c in df.columns])
        if df.height:
            df = df.sort([c for c in sort_by if c in df.columns] + ["metaxy_provenance"], nulls_last=True)
        out[part] = df
    return out, sort_by
