//! The Iceberg store through a REST catalog (`catalog_properties` `type = "rest"`): the Iceberg fixtures served by
//! `tests/services/iceberg_rest.py` (pyiceberg's SQL catalog on the fixture's `catalog.db` behind the REST API) read
//! exactly as through the SQL catalog; our writes (appends, soft and hard deletes) committed through the REST API
//! are read back by real Metaxy through pyiceberg's REST client as Metaxy's own goldens; bad REST configurations
//! fail with one line that never shows a secret.

use std::path::Path;

use metaxy_tui::engine::workspace::{OpenOptions, Workspace};

use crate::common::*;
use crate::roundtrip::{metaxy_check, tui};

/// Points the `dev` store of the scenario in `dir` at the REST catalog `uri` (with `extra` inline-table entries).
fn use_rest(dir: &Path, uri: &str, extra: &str) {
    let path = dir.join("metaxy.toml");
    let toml = std::fs::read_to_string(&path).unwrap();
    let line = "warehouse = \"${METAXY_FIXTURE_DIR:-.}/store\"\n";
    assert!(toml.contains(line), "{}", path.display());
    let props = format!("catalog_properties = {{ type = \"rest\", uri = \"{uri}\"{extra} }}\n");
    std::fs::write(&path, toml.replacen(line, &format!("{line}{props}"), 1)).unwrap();
}

fn open(dir: &Path) -> Result<Workspace, String> {
    let opts = OpenOptions {
        cwd: dir.to_path_buf(),
        env: scenario_env(dir),
        ..Default::default()
    };
    Workspace::open(&opts).map_err(|e| e.to_string())
}

#[test]
fn rest_catalog_reads_like_the_sql_catalog() {
    for s in SCENARIOS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        copy_dir(&scenario_dir_in("iceberg", s), dir);
        let server = iceberg_rest_server(&dir.join("store"), None, None);
        use_rest(dir, &server.uri, "");
        let rest = open(dir).unwrap_or_else(|e| panic!("{s}: {e}"));
        let sql = open_scenario_in("iceberg", s);
        let o_rest = observe(&rest, &rest.store.location(), true);
        let o_sql = observe(&sql, &sql.store.location(), true);
        assert!(o_sql.len() > 1000, "{s}");
        if o_rest != o_sql {
            let first = o_sql
                .lines()
                .zip(o_rest.lines())
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("\n  sql:  {a}\n  rest: {b}"))
                .unwrap_or_default();
            panic!("{s}: the REST catalog reads differ from the SQL catalog's; first difference:{first}");
        }
    }
}

/// The mutation chain of `roundtrip::metaxy_reads_our_mutations_like_its_own` (rebase = appends, soft delete,
/// hard delete) with the store behind a REST catalog that wants a bearer token and serves under a path prefix;
/// Metaxy (pyiceberg's REST client, same token) reads each result as its own goldens.
#[test]
fn writes_through_a_rest_catalog_are_read_by_metaxy_like_its_own() {
    let token = ", token = \"s3cr3t-t0ken\"";
    let step = |from: &str, args: &[&[&str]], expected: &str, what: &str| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        copy_dir(&scenario_dir_in("iceberg", from), dir);
        let server = iceberg_rest_server(&dir.join("store"), Some("s3cr3t-t0ken"), Some("cat"));
        use_rest(dir, &server.uri, token);
        for a in args {
            tui(dir, a);
        }
        metaxy_check(
            dir,
            &scenario_dir_in("iceberg", expected).join("expected"),
            &[],
            what,
        );
    };
    step(
        "s04_version_bump",
        &[
            &["metadata", "rebase", "example/crop", "--from", "34d75856"],
            &[
                "metadata",
                "rebase",
                "example/face_detection",
                "--from",
                "f1526ee0",
            ],
            &[
                "metadata",
                "rebase",
                "example/av_report",
                "--from",
                "542f3bec",
            ],
        ],
        "s05_rebased",
        "REST rebase (appends)",
    );
    let meta = json(scenario_dir_in("iceberg", "s06_soft_delete").join("scenario.json"));
    let filter = crate::roundtrip::ids_filter(&meta);
    step(
        "s05_rebased",
        &[&["metadata", "delete", "example/stt", "--filter", &filter]],
        "s06_soft_delete",
        "REST soft delete",
    );
    let meta = json(scenario_dir_in("iceberg", "s07_hard_delete").join("scenario.json"));
    let filter = crate::roundtrip::ids_filter(&meta);
    step(
        "s06_soft_delete",
        &[&[
            "metadata",
            "delete",
            "example/face_detection",
            "--hard",
            "--yes",
            "--filter",
            &filter,
        ]],
        "s07_hard_delete",
        "REST hard delete",
    );
}

/// A commit whose requirement no longer holds (`main` moved since the table was read) is refused by the server
/// (409) and reported as "not applied"; the one that holds is applied.
#[test]
fn rest_commits_are_conditional() {
    use iceberg::{TableIdent, TableRequirement};
    use metaxy_tui::engine::store::iceberg::RestLocation;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_dir(&scenario_dir_in("iceberg", "s01_initial"), dir);
    let server = iceberg_rest_server(&dir.join("store"), Some("t"), Some("p"));
    let props = serde_json::json!({"type": "rest", "uri": server.uri, "token": "t"});
    let rest = RestLocation::from_props("metaxy", props.as_object().unwrap()).unwrap();
    let ident = TableIdent::from_strs(["metaxy", "example__video"]).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let current = rt.block_on(async {
        let cat = rest.connect().await.unwrap();
        iceberg::Catalog::load_table(&cat, &ident).await.unwrap()
    });
    let current = current.metadata().current_snapshot_id();
    assert!(current.is_some());
    let at = |snapshot_id| {
        vec![TableRequirement::RefSnapshotIdMatch {
            r#ref: "main".into(),
            snapshot_id,
        }]
    };
    let stale = rt.block_on(rest.commit(&ident, at(Some(12345)), vec![]));
    assert_eq!(stale, Ok(false));
    let fresh = rt.block_on(rest.commit(&ident, at(current), vec![]));
    assert_eq!(fresh, Ok(true));
}

/// A drop goes through the catalog: the table is gone for the REST and the SQL view of the catalog alike.
#[test]
fn drops_go_through_the_rest_catalog() {
    use metaxy_tui::engine::keys::FeatureKey;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_dir(&scenario_dir_in("iceberg", "s01_initial"), dir);
    let server = iceberg_rest_server(&dir.join("store"), None, None);
    use_rest(dir, &server.uri, "");
    let ws = open(dir).unwrap();
    let key = FeatureKey::parse("example/video").unwrap();
    assert!(ws.store.has_feature(&key).unwrap());
    assert!(ws.store.drop_feature(&key).unwrap());
    assert!(!ws.store.has_feature(&key).unwrap());
    assert!(!ws.store.drop_feature(&key).unwrap());
    // the SQL catalog under the server agrees
    let mut toml = std::fs::read_to_string(dir.join("metaxy.toml")).unwrap();
    toml = toml
        .lines()
        .filter(|l| !l.starts_with("catalog_properties"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("metaxy.toml"), toml).unwrap();
    let sql = open(dir).unwrap();
    assert!(!sql.store.has_feature(&key).unwrap());
    assert!(sql
        .store
        .has_feature(&FeatureKey::parse("example/crop").unwrap())
        .unwrap());
}

#[test]
fn bad_rest_configurations_fail_with_one_line_without_secrets() {
    let check = |extra_uri: &str, extra: &str, want: &str| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        copy_dir(&scenario_dir_in("iceberg", "s01_initial"), dir);
        use_rest(dir, extra_uri, extra);
        let out = run_binary(dir, &["metadata", "status", "--all-features"]);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "{extra_uri} {extra}: {stderr}");
        assert!(stderr.contains(want), "{extra_uri} {extra}: {stderr}");
        assert!(!stderr.contains("s3cr3t"), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    };
    // unknown key: refused at open, naming the key
    check(
        "http://127.0.0.1:9",
        ", token = \"s3cr3t\", \"rest.sigv4-enabled\" = \"true\"",
        "\"rest.sigv4-enabled\" is not supported",
    );
    // nothing listens there
    check("http://127.0.0.1:9", ", token = \"s3cr3t\"", "127.0.0.1:9");
    // the server wants another token
    let fixture = tempfile::tempdir().unwrap();
    copy_dir(&scenario_dir_in("iceberg", "s01_initial"), fixture.path());
    let server = iceberg_rest_server(&fixture.path().join("store"), Some("right"), None);
    check(&server.uri, ", token = \"s3cr3t-wrong\"", "401");
}

#[test]
fn config_print_masks_rest_catalog_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_dir(&scenario_dir_in("iceberg", "s01_initial"), dir);
    use_rest(
        dir,
        "http://127.0.0.1:9",
        ", token = \"s3cr3t\", credential = \"id:s3cr3t\"",
    );
    for args in [
        &["config", "print"][..],
        &["config", "print", "--format", "json"],
    ] {
        let out = run_binary(dir, args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}");
        assert!(stdout.contains("127.0.0.1:9"), "{stdout}");
        assert!(stdout.contains("***"), "{stdout}");
        assert!(!stdout.contains("s3cr3t"), "{stdout}");
    }
}

/// A store made from nothing behind a REST catalog (namespace and tables created through the REST API by `copy`
/// from DuckDB s07): real Metaxy reads, through pyiceberg's REST client, the rows of its own copy (s08 archive).
#[test]
fn a_rest_store_we_create_by_copy_is_read_by_metaxy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_dir(&scenario_dir_in("duckdb", "s07_hard_delete"), dir);
    let archive = dir.join("store_archive");
    std::fs::create_dir_all(&archive).unwrap();
    let server = iceberg_rest_server(&archive, None, None);
    let mut toml = std::fs::read_to_string(dir.join("metaxy.toml")).unwrap();
    toml.push_str(&format!(
        "\n[stores.archive]\ntype = \"metaxy.ext.polars.handlers.iceberg.IcebergMetadataStore\"\n\n\
         [stores.archive.config]\nwarehouse = \"${{METAXY_FIXTURE_DIR:-.}}/store_archive\"\n\
         catalog_properties = {{ type = \"rest\", uri = \"{}\" }}\n",
        server.uri
    ));
    std::fs::write(dir.join("metaxy.toml"), toml).unwrap();
    tui(
        dir,
        &[
            "metadata",
            "copy",
            "--all-features",
            "--from",
            "dev",
            "--to",
            "archive",
        ],
    );
    let exp = tempfile::tempdir().unwrap();
    copy_dir(
        &scenario_dir_in("duckdb", "s08_copy").join("expected/archive_raw"),
        &exp.path().join("raw"),
    );
    metaxy_check(
        dir,
        exp.path(),
        &["--store", "archive", "--check", "raw"],
        "duckdb -> new iceberg store behind a REST catalog",
    );
}

/// An append that adds a column commits the grown schema through REST (`add-schema`, `set-current-schema`, asserting
/// the current schema and last column id read): the new column is read back with the new rows, null for the old.
#[test]
fn an_append_through_rest_grows_the_schema() {
    use metaxy_tui::engine::keys::FeatureKey;
    use metaxy_tui::engine::store::api::Columns;
    use polars::prelude::*;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_dir(&scenario_dir_in("iceberg", "s01_initial"), dir);
    let server = iceberg_rest_server(&dir.join("store"), None, None);
    use_rest(dir, &server.uri, "");
    let ws = open(dir).unwrap();
    let key = FeatureKey::parse("example/video").unwrap();
    let before = ws.store.scan(&key, None, &Columns::All).unwrap().unwrap();
    assert!(before.column("extra_col").is_err());
    let mut rows = before.head(Some(2));
    let n = rows.height();
    rows.with_column(Column::new("extra_col".into(), vec!["x"; n]))
        .unwrap();
    ws.store.append(&key, &rows).unwrap();
    let after = ws.store.scan(&key, None, &Columns::All).unwrap().unwrap();
    assert_eq!(after.height(), before.height() + n);
    let extra = after.column("extra_col").unwrap();
    assert_eq!(extra.null_count(), before.height());
    let values: Vec<&str> = extra.str().unwrap().iter().flatten().collect();
    assert_eq!(values, vec!["x"; n]);
}
