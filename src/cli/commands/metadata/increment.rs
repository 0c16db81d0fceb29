//! `metadata increment`: the full increment of a feature (the engine's [`Increment`]: new, stale and orphaned
//! samples with their provenance), with the causes of staleness looked up by the engine's `cause` module. With
//! `--limit`, a store that pages increments itself ([`crate::engine::versioning::pages`]) computes only the shown
//! rows.

use std::process::ExitCode;

use anyhow::Result;
use polars::prelude::*;
use serde_json::{json, Value};

use crate::cli::args::Format;
use crate::cli::output::table::table;
use crate::cli::output::{out, out_json};
use crate::engine::json::df_to_json_rows;
use crate::engine::keys::FeatureKey;
use crate::engine::schema as cols;
use crate::engine::versioning::cause::SampleCause;
use crate::engine::versioning::pages::{first_pages_for, page_causes, CAUSE_ROWS};
use crate::engine::versioning::resolve::{Increment, ResolveOptions};
use crate::engine::workspace::Workspace;

/// The columns of an increment row: id columns present in the frame, remaining join columns, then provenance.
fn increment_row_columns(inc: &Increment, df: &DataFrame) -> Vec<String> {
    let mut c: Vec<String> = inc
        .id_columns
        .iter()
        .filter(|x| df.get_column_index(x).is_some())
        .cloned()
        .collect();
    for j in &inc.join_columns {
        if !c.contains(j) {
            c.push(j.clone());
        }
    }
    c.push(cols::PROVENANCE_BY_FIELD.into());
    c.push(cols::PROVENANCE.into());
    c
}

/// The increment `metadata increment` shows, how many rows each kind has in all (`new`, `stale`, `orphaned`) and
/// the causes of the shown stale rows.
type Shown = (Increment, (usize, usize, usize), Option<Vec<SampleCause>>);

/// With `--limit n` and no filter or samples file: the first `n` rows of each kind computed by the store itself
/// ([`first_pages_for`]: ClickHouse, and DuckDB / local Delta stores for large increments, so that the increment is
/// never materialised whole), the totals the store's counts, the causes looked up for the shown stale rows only
/// ([`page_causes`], when `n` is at most [`CAUSE_ROWS`]). `None` where the store does not page the plan: the
/// caller runs the general engine. Errors: the store's, or a cause lookup's.
fn paged(
    ws: &Workspace,
    key: &FeatureKey,
    opts: &ResolveOptions,
    limit: Option<usize>,
    with_causes: bool,
) -> Result<Option<Shown>> {
    let Some(n) = limit else {
        return Ok(None);
    };
    if with_causes && n > CAUSE_ROWS {
        return Ok(None);
    }
    let Some(p) = first_pages_for(ws.store.as_ref(), &ws.graph, key, opts, n)? else {
        return Ok(None);
    };
    let causes = if with_causes && p.increment.stale.height() > 0 {
        Some(page_causes(ws.store.as_ref(), &ws.graph, &p.increment)?)
    } else {
        None
    };
    Ok(Some((p.increment, p.totals, causes)))
}

/// Runs `metadata increment` on `feature`: at most `limit` rows per category, stale causes when `with_causes`.
/// With a limit the store may compute only those rows ([`paged`]); otherwise the general engine resolves the
/// whole increment.
pub fn run(
    ws: &Workspace,
    feature: &str,
    opts: &ResolveOptions,
    limit: Option<usize>,
    with_causes: bool,
    format: Format,
) -> Result<ExitCode> {
    let key = ws.feature(feature)?;
    let (inc, counts, causes) = match paged(ws, &key, opts, limit, with_causes)? {
        Some(shown) => shown,
        None => {
            let inc = ws.increment(&key, opts)?;
            // why each stale sample is stale (which upstream data versions changed); samples files bypass
            // upstream, so causes are only looked up for computed increments
            let causes = if with_causes && opts.samples.is_none() {
                crate::engine::view::causes_of_stale(ws, &inc, limit)?
            } else {
                None
            };
            let counts = (inc.new.height(), inc.stale.height(), inc.orphaned.height());
            (inc, counts, causes)
        }
    };
    let lim = |df: &DataFrame| match limit {
        Some(n) => df.head(Some(n)),
        None => df.clone(),
    };
    if format == Format::Json {
        let rows = |df: &DataFrame| -> Result<Vec<Value>> {
            Ok(df_to_json_rows(
                &lim(df),
                Some(&increment_row_columns(&inc, df)),
            )?)
        };
        let v = json!({
            "feature": key.to_string(),
            "feature_version": inc.feature_version,
            "id_columns": inc.id_columns,
            "join_columns": inc.join_columns,
            "resolved_from": inc.upstream_sources.iter().map(|(k, s)| (k.clone(), json!(s))).collect::<serde_json::Map<String, Value>>(),
            "counts": {"new": counts.0, "stale": counts.1, "orphaned": counts.2},
            "new": rows(&inc.new)?,
            "stale": rows(&inc.stale)?,
            "orphaned": rows(&inc.orphaned)?,
            "stale_causes": causes.as_ref().map(|c| json!({
                // causes are looked up for the stale rows shown (all of them without --limit)
                "samples_examined": c.len(),
                "summary": crate::engine::versioning::cause::summarize(c)
                    .into_iter()
                    .map(|(cause, count)| json!({"cause": cause, "count": count}))
                    .collect::<Vec<_>>(),
                "samples": c,
            })),
        });
        out_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    out(&format!(
        "{} ({}) in store {}: {} new, {} stale, {} orphaned",
        key,
        inc.feature_version,
        ws.store.name(),
        counts.0,
        counts.1,
        counts.2
    ))?;
    for (title, df, total) in [
        ("New", &inc.new, counts.0),
        ("Stale", &inc.stale, counts.1),
        ("Orphaned", &inc.orphaned, counts.2),
    ] {
        out(&format!("\n{title} ({total})"))?;
        if df.height() == 0 {
            continue;
        }
        out(&increment_table(&inc, title, df, limit)?.to_string())?;
        if title == "Stale" {
            if let Some(c) = &causes {
                out(&format!(
                    "why: {}",
                    crate::engine::versioning::cause::summary_line(c)
                ))?;
                for sc in c {
                    out(&format!(
                        "  {}: {}",
                        sc.key.join(", "),
                        crate::engine::versioning::cause::cause_text(sc)
                    ))?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One plain increment table: key columns, one column per field, `metaxy_provenance`; the stale table shows
/// `stored → expected` where a hash changed (the engine's [`Increment::stale_diffs`]).
fn increment_table(
    inc: &Increment,
    title: &str,
    df: &DataFrame,
    limit: Option<usize>,
) -> Result<comfy_table::Table> {
    let mut headers = inc.key_columns(df);
    headers.extend(inc.field_keys.iter().cloned());
    headers.push(cols::PROVENANCE.into());
    let mut t = table(&headers.iter().map(String::as_str).collect::<Vec<_>>());
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "null".into());
    let diff = |old: Option<&Option<String>>, new: &Option<String>| match old {
        Some(o) if o != new => format!("{} → {}", text(o), text(new)),
        _ => text(new),
    };
    if title == "Stale" {
        for d in inc.stale_diffs(limit)? {
            let mut row = d.expected.key.clone();
            for (i, new) in d.expected.fields.iter().enumerate() {
                row.push(diff(d.stored.as_ref().map(|s| &s.fields[i]), new));
            }
            row.push(diff(
                d.stored.as_ref().map(|s| &s.provenance),
                &d.expected.provenance,
            ));
            t.add_row(row);
        }
    } else {
        for p in inc.provenance_rows(df, limit)? {
            let mut row = p.key;
            row.extend(p.fields.iter().map(text));
            row.push(text(&p.provenance));
            t.add_row(row);
        }
    }
    Ok(t)
}
