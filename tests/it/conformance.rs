//! Engine conformance against the goldens real Metaxy 0.1.11 computed on the same stores (s01-s08 on DuckDB,
//! Delta and LanceDB, plus the Map-mode stores `map_mode/` and `map_mode_bump/`): graph versions, default and raw
//! reads, increments with exact provenance strings, `metadata status` JSON.

use metaxy_tui::engine::json::df_to_json_rows;
use metaxy_tui::engine::keys::FeatureKey;
use metaxy_tui::engine::query::read::ReadOptions;
use metaxy_tui::engine::versioning::resolve::ResolveOptions;
use metaxy_tui::engine::versioning::status::status_document;
use serde_json::Value;

use crate::common::*;

#[test]
fn graph_versions_match_metaxy() {
    for (b, s) in all_scenarios() {
        let ws = open_scenario_in(b, s);
        let g = json(scenario_dir_in(b, s).join("expected/graph.json"));
        assert_eq!(ws.graph.project, g["project"], "{b}/{s}");
        assert_eq!(ws.graph.project_version, g["project_version"], "{b}/{s}");
        assert_eq!(
            ws.graph.computed_project_version, g["project_version"],
            "{b}/{s}: recomputed project version"
        );
        assert!(
            ws.graph.mismatches().is_empty(),
            "{b}/{s}: {:?}",
            ws.graph.mismatches()
        );
        let features = g["features"].as_object().unwrap();
        assert_eq!(features.len(), ws.graph.features.len(), "{b}/{s}");
        for (k, exp) in features {
            let key = FeatureKey::parse(k).unwrap();
            let v = ws
                .graph
                .versions_of(&key)
                .unwrap_or_else(|| panic!("{b}/{s}: {k} missing"));
            assert_eq!(v.feature_version, exp["feature_version"], "{b}/{s} {k}");
            assert_eq!(v.code_version, exp["code_version"], "{b}/{s} {k}");
            assert_eq!(v.spec_version, exp["feature_spec_version"], "{b}/{s} {k}");
            assert_eq!(
                v.definition_version, exp["definition_version"],
                "{b}/{s} {k}"
            );
            for (fk, fv) in exp["field_versions"].as_object().unwrap() {
                let got = v
                    .field_versions
                    .iter()
                    .find(|(a, _)| a == fk)
                    .map(|(_, b)| b.clone());
                assert_eq!(got.as_deref(), fv.as_str(), "{b}/{s} {k}.{fk}");
            }
            for (fk, parents) in exp["field_parent_fields"].as_object().unwrap() {
                let def = ws.graph.get(&key).unwrap();
                let fi = def
                    .spec
                    .fields
                    .iter()
                    .position(|f| f.key.to_string() == *fk)
                    .unwrap();
                let got: Vec<String> = ws
                    .graph
                    .parent_fields(&key, fi)
                    .unwrap()
                    .iter()
                    .map(|(a, b)| format!("{a}.{b}"))
                    .collect();
                let mut want: Vec<String> = parents
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_str().unwrap().to_string())
                    .collect();
                want.sort();
                assert_eq!(got, want, "{b}/{s} {k}.{fk} parents");
            }
            let ids: Vec<String> = exp["input_id_columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect();
            if !ids.is_empty() {
                let mut got =
                    metaxy_tui::engine::versioning::resolve::join_columns(&ws.graph, &key).unwrap();
                got.sort();
                let mut want = ids.clone();
                want.sort();
                assert_eq!(got, want, "{b}/{s} {k} input id columns");
            }
        }
    }
}

#[test]
fn default_and_raw_reads_match_metaxy() {
    for (b, s) in all_scenarios() {
        let ws = open_scenario_in(b, s);
        let Ok(text) =
            std::fs::read_to_string(scenario_dir_in(b, s).join("expected/reads_index.json"))
        else {
            continue;
        };
        let index: Value = serde_json::from_str(&text).unwrap();
        for (k, entry) in index.as_object().unwrap() {
            let Some(default_read) = entry.get("default_read") else {
                continue;
            };
            let key = FeatureKey::parse(k).unwrap();
            let exp = json(scenario_dir_in(b, s).join(default_read["file"].as_str().unwrap()));
            let df = ws
                .read(&key, &ReadOptions::default())
                .unwrap()
                .unwrap_or_else(|| panic!("{b}/{s} {k}: no table"));
            assert_eq!(
                df.height() as u64,
                default_read["count"].as_u64().unwrap(),
                "{b}/{s} {k} default read count"
            );
            let got = df_to_json_rows(&df, None).unwrap();
            let exp_rows = exp["rows"].as_array().unwrap();
            let keys = row_keys(exp_rows);
            assert!(
                exp_rows.is_empty() || keys.iter().any(|c| c == "metaxy_provenance"),
                "{b}/{s} {k}"
            );
            assert_eq!(
                multiset(&got, &keys),
                multiset(exp_rows, &keys),
                "{b}/{s} {k}: default read rows differ"
            );
            // raw table: every version, every row, tombstones included
            let raw = entry["raw_table"].clone();
            let opts = ReadOptions {
                with_feature_history: true,
                with_sample_history: true,
                include_soft_deleted: true,
                ..Default::default()
            };
            let all = ws.read(&key, &opts).unwrap().unwrap();
            assert_eq!(
                all.height() as u64,
                raw["count"].as_u64().unwrap(),
                "{b}/{s} {k} raw count"
            );
            let raw_rows = json(scenario_dir_in(b, s).join(raw["file"].as_str().unwrap()));
            let raw_rows = raw_rows["rows"].as_array().unwrap();
            let keys = row_keys(raw_rows);
            assert_eq!(
                multiset(&df_to_json_rows(&all, None).unwrap(), &keys),
                multiset(raw_rows, &keys),
                "{b}/{s} {k}: raw rows differ"
            );
        }
    }
}

#[test]
fn increments_match_metaxy_exactly() {
    let mut checked = 0;
    for (b, s) in all_scenarios() {
        let ws = open_scenario_in(b, s);
        let dir = scenario_dir_in(b, s).join("expected/increments");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let exp = json(e.unwrap().path());
            let key = FeatureKey::parse(exp["feature"].as_str().unwrap()).unwrap();
            let inc = ws
                .increment(&key, &ResolveOptions::default())
                .unwrap_or_else(|e| panic!("{b}/{s} {key}: {e}"));
            assert_eq!(inc.feature_version, exp["feature_version"], "{b}/{s} {key}");
            let mut jc = inc.join_columns.clone();
            jc.sort();
            let mut ec: Vec<String> = exp["comparison_columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect();
            ec.sort();
            assert_eq!(jc, ec, "{b}/{s} {key} comparison columns");
            for (name, df) in [
                ("added", &inc.new),
                ("changed", &inc.stale),
                ("removed", &inc.orphaned),
            ] {
                let exp_rows = exp[name].as_array().unwrap();
                assert_eq!(df.height(), exp_rows.len(), "{b}/{s} {key} {name} count");
                assert_eq!(
                    exp["counts"][name].as_u64().unwrap() as usize,
                    exp_rows.len()
                );
                let got = df_to_json_rows(df, None).unwrap();
                let keys = row_keys(exp_rows);
                assert_eq!(
                    multiset(&got, &keys),
                    multiset(exp_rows, &keys),
                    "{b}/{s} {key} {name} rows differ"
                );
                checked += exp_rows.len();
            }
        }
    }
    assert!(checked > 100, "too few increment rows compared: {checked}");
}

#[test]
fn steps_increments_of_s01_match_metaxy() {
    for b in BACKENDS {
        // s01's steps are the increments computed on an empty store before each write: everything is new.
        let ws = open_scenario_in(b, "s01_initial");
        let exp = json(
            scenario_dir_in(b, "s01_initial").join("expected/steps/example__chunk_summary.json"),
        );
        let key = FeatureKey::parse("example/chunk_summary").unwrap();
        let inc = ws
            .increment(
                &key,
                &ResolveOptions {
                    skip_comparison: true,
                    ..Default::default()
                },
            )
            .unwrap();
        let rows = exp["added"].as_array().unwrap();
        assert_eq!(
            inc.new.height(),
            rows.len(),
            "aggregation keeps one row per upstream row"
        );
        let keys = row_keys(rows);
        assert_eq!(
            multiset(&df_to_json_rows(&inc.new, None).unwrap(), &keys),
            multiset(rows, &keys)
        );
    }
}

#[test]
fn status_json_matches_metaxy_cli() {
    for (b, s) in all_scenarios() {
        let Some(path) = std::fs::read_dir(scenario_dir_in(b, s).join("expected/cli"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with("metadata_status_json.txt"))
        else {
            continue;
        };
        let (code, stdout) = cli_capture(path);
        assert_eq!(code, 0);
        let ws = open_scenario_in(b, s);
        let statuses: Vec<_> = ws
            .graph
            .features
            .iter()
            .map(|f| ws.status(&f.spec.key, &ResolveOptions::default()))
            .collect();
        let got = status_document(&statuses, None);
        // Metaxy's captures print absolute store paths with the fixtures root replaced by `<fixtures>`
        let root = fixtures_root_of(b).display().to_string();
        // and PostgreSQL stores by the URL of the database Metaxy wrote (a fresh copy here)
        let db = match b {
            "postgres" => (
                ws.store.location(),
                format!("postgresql://***:@127.0.0.1:55432/mxfx_{s}"),
            ),
            "clickhouse" => (
                ws.store.location(),
                format!("clickhouse://***:@127.0.0.1:18123/mxfx_{s}"),
            ),
            _ => (root.clone(), "<fixtures>".into()),
        };
        let got: Value = serde_json::from_str(
            &serde_json::to_string(&got)
                .unwrap()
                .replace(&root, "<fixtures>")
                .replace(&db.0, &db.1),
        )
        .unwrap();
        let want: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(got, want, "{b}/{s}");
        // same key order as Metaxy prints
        assert_eq!(
            serde_json::to_string_pretty(&got)
                .unwrap()
                .replace(&root, "<fixtures>")
                .replace(&db.0, &db.1)
                .trim(),
            stdout.trim(),
            "{b}/{s}: textual JSON"
        );
    }
}

#[test]
fn filters_and_stale_if_follow_metaxy_semantics() {
    for b in BACKENDS {
        let ws = open_scenario_in(b, "s03_cascaded");
        let key = FeatureKey::parse("example/crop").unwrap();
        let base = ws.increment(&key, &ResolveOptions::default()).unwrap();
        assert_eq!(
            (
                base.new.height(),
                base.stale.height(),
                base.orphaned.height()
            ),
            (0, 0, 0)
        );
        // a staleness predicate marks matching stored rows stale although provenance is unchanged
        let opts = ResolveOptions {
            stale_if: vec!["sample_uid IN ('s000001', 's000002')".into()],
            ..Default::default()
        };
        let inc = ws.increment(&key, &opts).unwrap();
        assert_eq!(inc.stale.height(), 2);
        // a target filter applies to the stored rows only: the expected rows it hides become new
        let opts = ResolveOptions {
            target_filters: vec!["sample_uid = 's000001'".into()],
            ..Default::default()
        };
        let inc = ws.increment(&key, &opts).unwrap();
        assert_eq!(inc.new.height(), 49);
        // a global filter applies everywhere
        let opts = ResolveOptions {
            global_filters: vec!["sample_uid = 's000001'".into()],
            ..Default::default()
        };
        let inc = ws.increment(&key, &opts).unwrap();
        assert_eq!(
            (inc.new.height(), inc.stale.height(), inc.orphaned.height()),
            (0, 0, 0)
        );
        // bad filters are typed errors
        let opts = ResolveOptions {
            global_filters: vec!["no_such_column = 1".into()],
            ..Default::default()
        };
        assert!(matches!(
            ws.increment(&key, &opts),
            Err(metaxy_tui::engine::error::EngineError::BadFilter { .. })
        ));
    }
}

#[test]
fn soft_deleted_rows_are_hidden_but_readable() {
    for b in BACKENDS {
        let ws = open_scenario_in(b, "s06_soft_delete");
        let mut hidden = 0;
        for f in &ws.graph.features {
            let live = ws
                .read(&f.spec.key, &ReadOptions::default())
                .unwrap()
                .unwrap()
                .height();
            let with = ws
                .read(
                    &f.spec.key,
                    &ReadOptions {
                        include_soft_deleted: true,
                        ..Default::default()
                    },
                )
                .unwrap()
                .unwrap()
                .height();
            hidden += with - live;
        }
        assert!(hidden > 0, "s06 soft-deletes rows");
    }
}

#[test]
fn historical_snapshot_loads_the_old_graph() {
    for b in BACKENDS {
        let mut opts = metaxy_tui::engine::workspace::OpenOptions {
            cwd: scenario_dir_in(b, "s04_version_bump"),
            snapshot: Some("bc37caf4".into()),
            env: scenario_env(&scenario_dir_in(b, "s04_version_bump")),
            ..Default::default()
        };
        let ws = metaxy_tui::engine::workspace::Workspace::open(&opts).unwrap();
        assert_eq!(ws.graph.project_version, "bc37caf4");
        assert_eq!(
            ws.graph
                .feature_version(&FeatureKey::parse("example/crop").unwrap()),
            Some("34d75856")
        );
        assert!(ws.graph.mismatches().is_empty());
        assert_eq!(
            ws.history()
                .iter()
                .map(|h| h.project_version.as_str())
                .collect::<Vec<_>>(),
            ["f513ad86", "bc37caf4"]
        );
        opts.snapshot = Some("deadbeef".into());
        assert!(matches!(
            metaxy_tui::engine::workspace::Workspace::open(&opts),
            Err(metaxy_tui::engine::error::EngineError::UnknownSnapshot(_))
        ));
    }
}

#[test]
fn copied_store_without_system_table_reads_like_metaxy() {
    for b in BACKENDS {
        // s08: `metaxy metadata copy --all-features --from dev --to archive` copies rows but not the system table
        let dir = scenario_dir_in(b, "s08_copy");
        let opts = metaxy_tui::engine::workspace::OpenOptions {
            cwd: dir.clone(),
            store: Some("archive".into()),
            env: scenario_env(&dir),
            ..Default::default()
        };
        let ws = metaxy_tui::engine::workspace::Workspace::open(&opts).unwrap();
        assert_eq!(ws.graph_source.as_deref(), Some("dev"));
        let index = json(dir.join("expected/archive_index.json"));
        let all = ReadOptions {
            with_feature_history: true,
            with_sample_history: true,
            include_soft_deleted: true,
            ..Default::default()
        };
        let mut total = 0;
        for (k, entry) in index.as_object().unwrap() {
            let key = FeatureKey::parse(k).unwrap();
            let df = ws.read(&key, &all).unwrap().unwrap();
            let exp = json(dir.join(entry["file"].as_str().unwrap()));
            let rows = exp["rows"].as_array().unwrap();
            assert_eq!(df.height(), rows.len(), "{k}");
            let keys = row_keys(rows);
            let keys: Vec<String> = keys
                .into_iter()
                .filter(|c| c != "metaxy_updated_at")
                .collect();
            assert_eq!(
                multiset(&df_to_json_rows(&df, None).unwrap(), &keys),
                multiset(rows, &keys),
                "{k}"
            );
            total += df.height();
        }
        let (_, out) = cli_capture(dir.join("expected/cli/s08_copy.txt"));
        assert!(out.contains(&format!("{total} row(s) copied")), "{out}");
    }
}

#[test]
fn same_content_gives_identical_results_on_every_backend() {
    // every scenario, and the Map-mode stores against their Struct twins (s02_mutated, s04_version_bump)
    let mut pairs: Vec<(&str, &str, &str, &str)> = vec![];
    for s in SCENARIOS {
        pairs.push(("duckdb", s, "delta", s));
        pairs.push(("duckdb", s, "lancedb", s));
        pairs.push(("duckdb", s, "iceberg", s));
    }
    for s in SCENARIOS {
        pairs.push(("duckdb", s, "postgres", s));
        pairs.push(("duckdb", s, "clickhouse", s));
    }
    for group in MAP_MODE_GROUPS {
        for b in MAP_MODE_BACKENDS {
            pairs.push((group, b, b, map_mode_twin(group)));
        }
    }
    for (b1, s1, b2, s2) in pairs {
        let w1 = open_scenario_in(b1, s1);
        let w2 = open_scenario_in(b2, s2);
        let o1 = observe(&w1, &w1.store.location(), true);
        let o2 = observe(&w2, &w2.store.location(), true);
        assert!(o1.len() > 1000, "{b1}/{s1}");
        if o1 != o2 {
            let first = o1
                .lines()
                .zip(o2.lines())
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("\n  {a}\n  {b}"))
                .unwrap_or_default();
            panic!("{b1}/{s1} and {b2}/{s2} differ; first difference:{first}");
        }
    }
}

#[test]
fn snapshot_references_accept_prefixes_and_latest() {
    for b in BACKENDS {
        let dir = scenario_dir_in(b, "s04_version_bump");
        let open = |r: &str| {
            let opts = metaxy_tui::engine::workspace::OpenOptions {
                cwd: dir.clone(),
                snapshot: Some(r.into()),
                env: scenario_env(&dir),
                ..Default::default()
            };
            metaxy_tui::engine::workspace::Workspace::open(&opts)
        };
        let ws = open("BC37").unwrap();
        assert_eq!(ws.graph.project_version, "bc37caf4", "{b}");
        assert_eq!(ws.snapshot.as_deref(), Some("bc37caf4"));
        assert_eq!(open("latest").unwrap().graph.project_version, "f513ad86");
        let current = open("current").unwrap();
        assert_eq!(current.graph.project_version, "f513ad86");
        assert_eq!(current.snapshot, None);
        assert!(open("zz").is_err());
    }
}

#[test]
fn delta_flat_layout_reads_like_nested() {
    // the same Delta tables moved from `{root}/example/video.delta` to `{root}/example__video.delta`
    let src = scenario_dir_in("delta", "s02_mutated");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("flat");
    let mut moved = 0;
    for part in ["example", "metaxy-system"] {
        for e in std::fs::read_dir(src.join("store").join(part)).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().to_string();
            let flat = format!("{}__{name}", part.replace('-', "_"));
            copy_dir(&e.path(), &root.join(flat));
            moved += 1;
        }
    }
    assert_eq!(moved, 8);
    let cfg = tmp.path().join("metaxy.toml");
    std::fs::write(
        &cfg,
        format!(
            "project = \"example_overview\"\nstore = \"dev\"\n[stores.dev]\ntype = \"metaxy.ext.polars.handlers.delta.DeltaMetadataStore\"\n[stores.dev.config]\nroot_path = {:?}\nlayout = \"flat\"\n",
            root.display().to_string()
        ),
    )
    .unwrap();
    let flat = metaxy_tui::engine::workspace::Workspace::open(
        &metaxy_tui::engine::workspace::OpenOptions {
            config_file: Some(cfg),
            cwd: tmp.path().to_path_buf(),
            ..Default::default()
        },
    )
    .unwrap();
    let nested = open_scenario_in("delta", "s02_mutated");
    assert_eq!(
        observe(&flat, &flat.store.location(), false),
        observe(&nested, &nested.store.location(), false)
            .replace("<store>/example/", "<store>/example__")
    );
}

#[test]
fn damaged_delta_and_lance_tables_are_typed_errors() {
    use metaxy_tui::engine::error::EngineError;
    let crop = FeatureKey::parse("example/crop").unwrap();
    let stt = FeatureKey::parse("example/stt").unwrap();
    for b in ["delta", "lancedb"] {
        let tmp = tempfile::tempdir().unwrap();
        let ws = open_copy(b, "s02_mutated", tmp.path());
        let store = tmp.path().join("store");
        if b == "delta" {
            // a truncated data file and an unparsable commit
            let table = store.join("example/crop.delta");
            let data = std::fs::read_dir(&table)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.extension().is_some_and(|e| e == "parquet"))
                .unwrap();
            std::fs::write(data, b"garbage").unwrap();
            std::fs::write(
                store.join("example/stt.delta/_delta_log/00000000000000000000.json"),
                b"{bad json",
            )
            .unwrap();
        } else {
            std::fs::remove_dir_all(store.join("example__crop.lance/_versions")).unwrap();
            let data = std::fs::read_dir(store.join("example__stt.lance/data"))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            std::fs::write(data, b"x").unwrap();
        }
        for key in [&crop, &stt] {
            match ws.read(key, &ReadOptions::default()) {
                Err(EngineError::CorruptTable { message, .. }) => {
                    assert!(
                        !message.contains("\n   0: "),
                        "{b} {key}: backtrace in {message}"
                    );
                }
                Err(e) => panic!("{b} {key}: {e}"),
                Ok(_) => panic!("{b} {key}: a damaged table must not read"),
            }
            let st = ws.status(key, &ResolveOptions::default());
            assert!(st.error_message.is_some(), "{b} {key}");
        }
        // undamaged features still read
        let video = FeatureKey::parse("example/video").unwrap();
        assert_eq!(
            ws.read(&video, &ReadOptions::default())
                .unwrap()
                .unwrap()
                .height(),
            50
        );
    }
}
