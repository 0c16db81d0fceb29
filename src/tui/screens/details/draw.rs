//! Painting of the details pane: tab bar, the tables of the tabs, the Info tab's lines.

#[allow(unused_imports)]
use crate::tui::prelude::*;

pub(crate) fn tab_title(app: &App, tab: Tab) -> String {
    let n = tab.index() + 1;
    let label = tab.label();
    if tab == Tab::Metadata || tab == Tab::Detail {
        return format!("{n} {label}");
    }
    let Some(e) = app.selected_entry() else {
        return format!("{n} {label}");
    };
    match &e.report {
        None => format!("{n} {label} {}", app.spinner()),
        Some(r) => {
            let s = &r.status;
            let c = match tab {
                Tab::New => s.missing,
                Tab::Stale => s.stale,
                _ => s.orphaned,
            };
            let shown = match (
                &app.details.inc_filter,
                app.details.inc_filtered.get(&e.key),
            ) {
                (Some(_), Some(Load::Ready(t))) => Some(match tab {
                    Tab::New => t.new.total_rows,
                    Tab::Stale => t.stale.total_rows,
                    _ => t.orphaned.total_rows,
                }),
                _ => None,
            };
            match (c, shown) {
                (Some(c), Some(f)) => format!("{n} {label} ({f}/{c})"),
                (Some(c), None) => format!("{n} {label} ({c})"),
                _ => format!("{n} {label}"),
            }
        }
    }
}
pub(crate) fn draw_details(frame: &mut Frame, area: Rect, app: &App, ws: &Workspace) {
    let focused = app.features.focus == Focus::Details;
    let [tabs_area, pane] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let titles: Vec<Line> = Tab::ALL
        .iter()
        .map(|t| Line::from(tab_title(app, *t)))
        .collect();
    let tabs = Tabs::new(titles)
        .select(app.details.tab.index())
        .style(Style::new().fg(muted()))
        .highlight_style(Style::new().fg(Color::Black).bg(accent()).bold())
        .divider("│");
    frame.render_widget(tabs, tabs_area);
    let mut a = app.areas.get();
    a.tabs = tabs_area;
    app.areas.set(a);

    let Some(entry) = app.selected_entry() else {
        frame.render_widget(
            Paragraph::new("No feature selected.").block(pane_block(Line::default(), focused)),
            pane,
        );
        return;
    };
    let key = entry.key.to_string();
    let title = Line::from(vec![
        Span::raw(" "),
        Span::raw(key.clone()).bold(),
        Span::raw(format!(" · {} ", app.details.tab.label())),
    ]);
    let mut block = pane_block(title, focused);
    let inner = block.inner(pane);
    let (info_area, body) = if inner.height >= 6 {
        let [i, _, b] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(inner);
        (Some(i), b)
    } else {
        (None, inner)
    };

    if app.details.tab == Tab::Detail {
        frame.render_widget(block, pane);
        let lines = detail_lines(app, ws, entry);
        let start = app.details.nav[Tab::Detail.index()]
            .cursor
            .min(lines.len().saturating_sub(1));
        frame.render_widget(
            Paragraph::new(lines.into_iter().skip(start).collect::<Vec<_>>()),
            inner,
        );
        return;
    }
    let table: Option<&TableData> = app.current_table();
    if let Some(t) = table {
        block = table_block(block, app, t, body);
    }
    frame.render_widget(block, pane);
    draw_info_area(frame, app, ws, entry, info_area);
    if let Some(t) = table {
        draw_table(frame, body, t, app, focused);
        if t.rows.is_empty() {
            let msg = match app.details.tab {
                Tab::Metadata => "No rows in the default read.".to_string(),
                tab => format!("✓ No {} samples.", tab.label().to_lowercase()),
            };
            let [_, m] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(body);
            frame.render_widget(Paragraph::new(msg).fg(Color::Green), m);
        }
        return;
    }
    let msg = no_table_lines(app, entry, &key);
    frame.render_widget(Paragraph::new(msg).wrap(Wrap { trim: false }), body);
}
/// The pane block of a table tab with its titles: the visible row and column range, the active filter or
/// view, and the legend of the Stale tab.
fn table_block<'a>(mut block: Block<'a>, app: &App, t: &TableData, body: Rect) -> Block<'a> {
    let nav = &app.details.nav[app.details.tab.index()];
    let (start, end) = nav.visible_in(
        t.start,
        t.rows.len(),
        body.height.saturating_sub(1) as usize,
    );
    let sc = shown_columns(t, app);
    nav.max_col.set(max_scroll(&sc, body.width));
    let of = if t.counting {
        format!("≥{} (counting…)", t.total_rows)
    } else {
        t.total_rows.to_string()
    };
    let mut range = if t.rows.is_empty() {
        format!(" rows 0 of {of} ")
    } else {
        format!(" rows {}-{} of {of} ", start + 1, end)
    };
    if t.truncated() {
        range = format!("{}(first {} loaded) ", range, t.rows.len());
    }
    let (c0, c1, ctotal) = visible_columns(&sc, nav.col, body.width);
    if c0 > 0 || c1 < ctotal {
        let first = if c0 == 0 { 1 } else { sc.frozen + c0 + 1 };
        range.push_str(&format!(
            "· cols {first}-{} of {} ",
            sc.frozen + c1,
            sc.idx.len()
        ));
    }
    if sc.hidden > 0 {
        range.push_str(&format!("· {} hidden ", sc.hidden));
    }
    block = block.title(Line::from(range).right_aligned());
    if matches!(app.details.tab, Tab::New | Tab::Stale | Tab::Orphaned) {
        if let Some(f) = &app.details.inc_filter {
            block = block.title_bottom(
                Line::from(format!(" filter: {f} "))
                    .fg(Color::Magenta)
                    .left_aligned(),
            );
        }
    }
    if app.details.tab == Tab::Metadata {
        if let Some(d) = app.details.view.describe() {
            block = block.title_bottom(
                Line::from(format!(" {d} "))
                    .fg(Color::Magenta)
                    .left_aligned(),
            );
        }
    }
    if app.details.tab == Tab::Stale && t.total_rows > 0 {
        block = block.title_bottom(Line::from(vec![
            Span::raw(" "),
            Span::styled("old → new", Style::new().fg(Color::Yellow).bold()),
            Span::raw(" changed provenance · "),
            Span::styled("dimmed", Style::new().fg(muted())),
            Span::raw(" unchanged "),
        ]));
    }
    block
}

/// The info line above the table (and the SQL input or, on the Stale tab, the cause summary under it).
fn draw_info_area(
    frame: &mut Frame,
    app: &App,
    ws: &Workspace,
    entry: &FeatureEntry,
    info_area: Option<Rect>,
) {
    if let (Some(input), Some(i)) = (&app.details.sql_input, info_area) {
        let r = Rect { y: i.y + 1, ..i };
        let [p, f] = Layout::horizontal([Constraint::Length(6), Constraint::Min(1)]).areas(r);
        frame.render_widget(Paragraph::new("WHERE ").fg(Color::Yellow).bold(), p);
        frame.render_widget(input, f);
    }
    if let Some(i) = info_area {
        frame.render_widget(Paragraph::new(info_line(ws, entry)), i);
        if app.details.tab == Tab::Stale {
            let summary = if app.details.inc_filter.is_some() {
                match app.details.inc_filtered.get(&entry.key) {
                    Some(Load::Ready(t)) => t.cause_summary.as_ref(),
                    _ => None,
                }
            } else {
                app.details
                    .increments
                    .ready(&entry.key)
                    .and_then(|l| l.cause_summary.as_ref())
            };
            if let Some(summary) = summary {
                let why = Rect { y: i.y + 1, ..i };
                frame.render_widget(
                    Paragraph::new(Line::from(vec![
                        Span::styled("why: ", Style::new().fg(muted())),
                        Span::styled(summary.clone(), Style::new().fg(Color::Yellow)),
                    ])),
                    why,
                );
            }
        }
    }
}

/// What the body shows when the tab has no table yet: loading, failure, missing table or root feature.
fn no_table_lines(app: &App, entry: &FeatureEntry, key: &str) -> Vec<Line<'static>> {
    match app.details.tab {
        Tab::Metadata => match app.details.metadata.get(&entry.key) {
            None | Some(Load::Loading) => vec![spinner_line(app, &format!("Reading {key}…"))],
            Some(Load::Failed(e)) => error_lines(&format!("Reading {key} failed:"), e),
            Some(Load::Ready(_)) => vec![
                Line::from(format!("The store has no table for {key} (status: missing).")).fg(Color::Red),
                Line::default(),
                Line::from("Nothing has been written for this feature yet.").fg(muted()),
            ],
        },
        _ if app.details.inc_filter.is_some()
            && app.details.increments.current(&entry.key).is_some() =>
        {
            match app.details.inc_filtered.get(&entry.key) {
                Some(Load::Failed(e)) => error_lines("Filtering the increment failed:", e),
                _ => vec![spinner_line(app, &format!("Filtering the increment of {key}…"))],
            }
        }
        _ => match &entry.report {
            None => vec![spinner_line(app, &format!("Computing the increment of {key}…"))],
            Some(r) if r.status.status == StatusCategory::Error => {
                error_lines(&format!("Computing the status of {key} failed:"), r.status.error_message.as_deref().unwrap_or("unknown error"))
            }
            Some(r) if r.status.is_root_feature => vec![
                Line::from(vec![
                    Span::raw(format!("{key} is a ")),
                    Span::styled("root feature", Style::new().fg(Color::Blue).bold()),
                    Span::raw(" (no upstream dependencies)."),
                ]),
                Line::default(),
                Line::from("Root increments need a samples file (id columns + metaxy_provenance_by_field):"),
                Line::from(format!("  metaxy-tui metadata increment {key} --samples FILE")).fg(accent()),
                Line::from("(coming later)").fg(muted()),
            ],
            Some(r) => increment_lines(app, entry, &r.status, key),
        },
    }
}
/// What an increment tab shows while the feature's increment is not loaded (its counts are): loading it, or
/// why it failed.
fn increment_lines(
    app: &App,
    entry: &FeatureEntry,
    status: &crate::engine::versioning::status::FeatureStatus,
    key: &str,
) -> Vec<Line<'static>> {
    match app.details.increments.get(&entry.key) {
        Some(Load::Failed(e)) => error_lines(&format!("Loading the increment of {key} failed:"), e),
        Some(Load::Ready(l)) => match &l.tables {
            Err(e) => error_lines("Rendering the increment failed:", e),
            Ok(_) => vec![],
        },
        None | Some(Load::Loading) => vec![
            spinner_line(app, &format!("Loading the increment of {key}…")),
            Line::default(),
            Line::from(format!(
                "{} new · {} stale · {} orphaned (counted; the rows are being loaded)",
                status.missing.unwrap_or(0),
                status.stale.unwrap_or(0),
                status.orphaned.unwrap_or(0)
            ))
            .fg(muted()),
        ],
    }
}
/// The Detail tab: everything the pushed definition says about a feature, plus where its rows come from.
pub(crate) fn detail_lines(app: &App, ws: &Workspace, entry: &FeatureEntry) -> Vec<Line<'static>> {
    let key = &entry.key;
    let Some(def) = ws.graph.get(key) else {
        return vec![Line::from("Not in the graph.").fg(Color::Red)];
    };
    let head = section_head;
    let kv = kv_line;
    let v = ws.graph.versions_of(key);
    let mut out = vec![head("Feature")];
    out.push(kv("key", key.to_string()));
    out.push(kv("class", def.pushed.feature_class_path.clone()));
    out.push(kv("id columns", def.spec.id_columns.join(", ")));
    if let Some(v) = v {
        out.push(kv("feature version", v.feature_version.clone()));
        out.push(kv("definition version", v.definition_version.clone()));
        out.push(kv("code version", v.code_version.clone()));
    }
    out.push(kv(
        "project version",
        format!(
            "{} (pushed {} UTC)",
            def.pushed.project_version,
            def.pushed
                .recorded_at
                .chars()
                .take(19)
                .collect::<String>()
                .replace('T', " ")
        ),
    ));
    let source = ws.store.resolved_from(key);
    out.push(kv(
        "read from",
        format!("store {} · {}", source.name, source.location()),
    ));
    match entry.report.as_ref().map(|r| &r.status) {
        Some(st) => out.push(kv(
            "rows",
            format!(
                "{} (default read: current version, latest per sample, live){}",
                st.store_rows,
                if st.metadata_exists {
                    ""
                } else {
                    " · no table yet"
                }
            ),
        )),
        None => out.push(kv("rows", format!("{} counting…", app.spinner()))),
    }
    if let Some(d) = &def.spec.description {
        out.push(kv("description", d.clone()));
    }
    out.push(Line::default());
    out.push(head("Fields"));
    field_lines(ws, key, def, v, &mut out);
    out.push(Line::default());
    out.push(head("Dependencies"));
    if def.spec.deps.is_empty() {
        out.push(
            Line::from("  none: a root feature (its provenance comes from its producer)")
                .fg(muted()),
        );
    }
    for d in &def.spec.deps {
        dep_lines(d, &mut out);
    }
    let children = ws.graph.children(key);
    out.push(Line::default());
    out.push(head("Downstream"));
    out.push(Line::from(if children.is_empty() {
        "  none (a leaf feature)".to_string()
    } else {
        format!(
            "  {}",
            children
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }));
    out
}

/// A section heading of the Detail tab.
fn section_head(s: &str) -> Line<'static> {
    Line::from(s.to_string()).bold().fg(accent())
}

/// A `key  value` line of the Detail tab (key padded to 20 columns, muted).
fn kv_line(k: &str, v: String) -> Line<'static> {
    Line::from(vec![
        Span::raw(format!("  {k:<20}")).fg(muted()),
        Span::raw(v),
    ])
}

/// The Fields section of the Detail tab: per field its code version, field version and parent fields.
fn field_lines(
    ws: &Workspace,
    key: &FeatureKey,
    def: &crate::engine::graph::FeatureDef,
    v: Option<&crate::engine::graph::FeatureVersions>,
    out: &mut Vec<Line<'static>>,
) {
    for (fi, f) in def.spec.fields.iter().enumerate() {
        let fv = v
            .and_then(|v| {
                v.field_versions
                    .iter()
                    .find(|(k, _)| *k == f.key.to_string())
            })
            .map(|(_, x)| x.clone())
            .unwrap_or_default();
        let parents = ws
            .graph
            .parent_fields(key, fi)
            .map(|p| {
                p.iter()
                    .map(|(a, b)| format!("{a}.{b}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_else(|e| format!("error: {e}"));
        out.push(Line::from(vec![
            Span::raw(format!("  {:<16}", f.key.to_string())).bold(),
            Span::raw(format!("code_version {:<6} ", f.code_version)).fg(muted()),
            Span::raw(format!("version {fv:<10} ")),
            Span::raw(if parents.is_empty() {
                "(root field)".to_string()
            } else {
                format!("← {parents}")
            })
            .fg(Color::Magenta),
        ]));
    }
}

/// The lines of one dependency in the Detail tab: upstream key, lineage, selected and renamed columns, filters
/// and the fields mapping.
fn dep_lines(d: &crate::engine::graph::FeatureDep, out: &mut Vec<Line<'static>>) {
    use crate::engine::graph::{FieldsMapping, Lineage};
    let kv = kv_line;
    let lineage = match &d.lineage {
        Lineage::Identity => "1:1".to_string(),
        Lineage::Aggregation { on } => format!(
            "N:1 on {}",
            on.clone()
                .map(|o| o.join(", "))
                .unwrap_or_else(|| "id columns".into())
        ),
        Lineage::Expansion { on, .. } => format!("1:N on {}", on.join(", ")),
    };
    let mapping = match &d.fields_mapping {
        FieldsMapping::Default {
            match_suffix,
            exclude_fields,
        } => {
            let mut m = "default".to_string();
            if *match_suffix {
                m.push_str(", suffix match");
            }
            if !exclude_fields.is_empty() {
                m.push_str(&format!(
                    ", excluding {}",
                    exclude_fields
                        .iter()
                        .map(|f| f.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            m
        }
        other => format!("{other:?}").to_lowercase(),
    };
    out.push(Line::from(vec![
        Span::raw(format!("  {}", d.feature)).bold(),
        Span::raw(if d.optional { "  (optional)" } else { "" }).fg(Color::Yellow),
    ]));
    out.push(kv("  lineage", lineage));
    out.push(kv(
        "  select",
        match &d.select {
            None => "all columns".into(),
            Some(c) if c.is_empty() => "ids and system columns only".into(),
            Some(c) => c.join(", "),
        },
    ));
    if !d.rename.is_empty() {
        out.push(kv(
            "  rename",
            d.rename
                .iter()
                .map(|(a, b)| format!("{a} → {b}"))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    if !d.sql_filters.is_empty() {
        out.push(kv("  filters", d.sql_filters.join(" AND ")));
    }
    out.push(kv("  fields mapping", mapping));
}
pub(crate) fn spinner_line(app: &App, text: &str) -> Line<'static> {
    Line::from(vec![
        Span::styled(app.spinner(), Style::new().fg(accent())),
        Span::raw(format!(" {text}")),
    ])
}
pub(crate) fn error_lines(head: &str, msg: &str) -> Vec<Line<'static>> {
    let mut v = vec![
        Line::from(format!("! {head}")).fg(Color::Red).bold(),
        Line::default(),
    ];
    v.extend(
        msg.lines()
            .map(|l| Line::from(l.to_string()).fg(Color::Red)),
    );
    v
}
pub(crate) fn info_line<'a>(ws: &Workspace, entry: &FeatureEntry) -> Line<'a> {
    let mut parts: Vec<Span> = vec![];
    let sep = || Span::raw(" · ").fg(muted());
    if let Some(def) = ws.graph.get(&entry.key) {
        let version = ws.graph.feature_version(&entry.key).unwrap_or("");
        parts.push(Span::raw("version ").fg(muted()));
        parts.push(Span::raw(version.to_string()));
        parts.push(sep());
        parts.push(Span::raw("ids ").fg(muted()));
        parts.push(Span::raw(def.spec.id_columns.join(", ")));
        parts.push(sep());
        if def.spec.deps.is_empty() {
            parts.push(Span::raw("root").fg(Color::Blue));
        } else {
            parts.push(Span::raw("deps ").fg(muted()));
            parts.push(Span::raw(
                def.spec
                    .deps
                    .iter()
                    .map(|d| d.feature.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
        parts.push(sep());
        parts.push(Span::raw("fields ").fg(muted()));
        parts.push(Span::raw(
            def.spec
                .fields
                .iter()
                .map(|f| f.key.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    if let Some(r) = &entry.report {
        if r.status.metadata_exists {
            parts.push(sep());
            parts.push(Span::raw(format!("{} rows", r.status.store_rows)));
        }
        // Metaxy's resolved_from: rows that come from a fallback store, not from the store itself
        let source = r
            .status
            .store_metadata
            .as_ref()
            .and_then(|m| m["resolved_from"]["name"].as_str());
        if let Some(src) = source.filter(|s| *s != ws.store.name()) {
            parts.push(sep());
            parts.push(Span::raw(format!("from fallback store {src}")).fg(Color::Yellow));
        }
    }
    Line::from(parts)
}
