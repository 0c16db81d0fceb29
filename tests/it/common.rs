//! Helpers shared by the integration tests: fixture paths and workspace opening.

use std::collections::BTreeMap;
use std::path::PathBuf;

use metaxy_tui::engine::workspace::{OpenOptions, Workspace};
use serde_json::Value;

/// The eight cumulative DuckDB scenarios written by real Metaxy 0.1.11.
pub const SCENARIOS: [&str; 8] = [
    "s01_initial",
    "s02_mutated",
    "s03_cascaded",
    "s04_version_bump",
    "s05_rebased",
    "s06_soft_delete",
    "s07_hard_delete",
    "s08_copy",
];

/// `tests/fixtures`.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The backends every scenario was written to by real Metaxy (PostgreSQL and ClickHouse stores are dumps loaded
/// into fresh databases of the test servers, see [`scenario_env`]).
pub const BACKENDS: [&str; 6] = [
    "duckdb",
    "delta",
    "lancedb",
    "iceberg",
    "postgres",
    "clickhouse",
];

/// The backends written in Map mode too (`tests/fixtures/map_mode/<backend>`).
pub const MAP_MODE_BACKENDS: [&str; 3] = ["duckdb", "delta", "lancedb"];

/// Every store real Metaxy wrote in the standard fixture layout (`expected/graph.json`, `reads_index.json`, ...),
/// as (directory, scenario) pairs under `tests/fixtures`: the eight scenarios of each backend, plus the
/// `s02_mutated` (`map_mode/`) and `s04_version_bump` (`map_mode_bump/`: graph v2 pushed, nothing re-materialised,
/// so crop and its downstream have no row of their new version) states written in Map mode
/// (`enable_map_datatype = true`) on each backend.
pub fn all_scenarios() -> Vec<(&'static str, &'static str)> {
    let mut v: Vec<(&str, &str)> = BACKENDS
        .iter()
        .flat_map(|b| SCENARIOS.iter().map(move |s| (*b, *s)))
        .collect();
    for group in MAP_MODE_GROUPS {
        v.extend(MAP_MODE_BACKENDS.iter().map(|b| (group, *b)));
    }
    v
}

/// The Map-mode fixture groups (`tests/fixtures/<group>/<backend>/`); their Struct twins: [`map_mode_twin`].
pub const MAP_MODE_GROUPS: [&str; 2] = ["map_mode", "map_mode_bump"];

/// The Struct-mode scenario `group` (one of [`MAP_MODE_GROUPS`]) mirrors.
pub fn map_mode_twin(group: &str) -> &'static str {
    match group {
        "map_mode_bump" => "s04_version_bump",
        _ => "s02_mutated",
    }
}

/// Everything a user sees of a store, as text: default reads of every feature (rows sorted) and the status
/// document. `mask` is replaced by `<store>`; with `strip_store_info` the backend-specific `store_metadata` is
/// dropped so stores of different backends can be compared.
pub fn observe(ws: &Workspace, mask: &str, strip_store_info: bool) -> String {
    use metaxy_tui::engine::json::df_to_json_rows;
    use metaxy_tui::engine::query::read::ReadOptions;
    use metaxy_tui::engine::versioning::resolve::ResolveOptions;
    use metaxy_tui::engine::versioning::status::status_document;
    let mut out = String::new();
    for f in &ws.graph.features {
        let key = &f.spec.key;
        let df = ws.read(key, &ReadOptions::default()).unwrap().unwrap();
        // column order is the first writer's and differs between backends: compare by name
        let mut rows: Vec<String> = df_to_json_rows(&df, None)
            .unwrap()
            .iter()
            .map(|r| {
                let sorted: BTreeMap<&String, &Value> = r.as_object().unwrap().iter().collect();
                serde_json::to_string(&sorted).unwrap()
            })
            .collect();
        rows.sort();
        out.push_str(&format!("{key}: {}\n", rows.join("\n")));
    }
    let statuses: Vec<_> = ws
        .graph
        .features
        .iter()
        .map(|f| ws.status(&f.spec.key, &ResolveOptions::default()))
        .collect();
    let mut doc = status_document(&statuses, None);
    if strip_store_info {
        for (_, f) in doc["features"].as_object_mut().unwrap().iter_mut() {
            f.as_object_mut().unwrap().remove("store_metadata");
        }
    }
    out.push_str(&doc.to_string());
    out.replace(mask, "<store>")
}

/// Keys of the first row (the columns Metaxy's golden rows carry).
pub fn row_keys(rows: &[Value]) -> Vec<String> {
    rows.first()
        .and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Directory of a DuckDB scenario.
pub fn scenario_dir(s: &str) -> PathBuf {
    scenario_dir_in("duckdb", s)
}

/// Directory of a scenario of `backend`. Iceberg fixtures hold absolute paths (catalog rows, metadata, manifests):
/// their directory is a relocated copy ([`relocate_iceberg`]) under [`fixtures_root_of`], made once per process.
pub fn scenario_dir_in(backend: &str, s: &str) -> PathBuf {
    if backend != "iceberg" {
        return fixtures().join(backend).join(s);
    }
    static DONE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let dir = fixtures_root_of("iceberg").join("iceberg").join(s);
    let mut done = DONE.lock().unwrap_or_else(|p| p.into_inner());
    if !done.iter().any(|d| d == s) {
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(&fixtures().join("iceberg").join(s), &dir);
        done.push(s.to_string());
    }
    dir
}

/// The directory whose `<backend>/<scenario>` is a scenario's directory ([`scenario_dir_in`]): `tests/fixtures`, or
/// for Iceberg this process's relocated copies (`<target tmp>/iceberg-fixtures-<pid>`; directories of processes
/// that are gone are removed).
pub fn fixtures_root_of(backend: &str) -> PathBuf {
    if backend != "iceberg" {
        return fixtures();
    }
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        if let Ok(entries) = std::fs::read_dir(&base) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(pid) = name.strip_prefix("iceberg-fixtures-") {
                    if !std::path::Path::new("/proc").join(pid).exists() {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        let root = base.join(format!("iceberg-fixtures-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::canonicalize(root).unwrap()
    })
    .clone()
}

/// Opens a DuckDB scenario the way a user would from inside its directory.
pub fn open_scenario(s: &str) -> Workspace {
    open_scenario_in("duckdb", s)
}

/// Opens a scenario of `backend` the way a user would from inside its directory.
pub fn open_scenario_in(b: &str, s: &str) -> Workspace {
    let dir = scenario_dir_in(b, s);
    let env = scenario_env(&dir);
    let opts = OpenOptions {
        cwd: dir,
        env,
        ..Default::default()
    };
    Workspace::open(&opts).unwrap_or_else(|e| panic!("{b}/{s}: {e}"))
}

/// Reads a JSON file.
pub fn json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses an `expected/cli/*.txt` capture into (exit code, stdout).
pub fn cli_capture(path: PathBuf) -> (i32, String) {
    let text = std::fs::read_to_string(&path).unwrap();
    let code: i32 = text
        .lines()
        .find_map(|l| l.strip_prefix("# exit code: "))
        .and_then(|c| c.trim().parse().ok())
        .unwrap();
    let stdout = text
        .split("# --- stdout ---\n")
        .nth(1)
        .unwrap()
        .split("# --- stderr ---")
        .next()
        .unwrap()
        .to_string();
    (code, stdout)
}

/// Projects `row` onto the keys of `template` and renders it canonically (for multiset comparison).
pub fn project(row: &Value, keys: &[String]) -> String {
    let mut m = serde_json::Map::new();
    for k in keys {
        m.insert(k.clone(), row.get(k).cloned().unwrap_or(Value::Null));
    }
    serde_json::to_string(&Value::Object(m)).unwrap()
}

/// Sorted canonical projections of rows.
pub fn multiset(rows: &[Value], keys: &[String]) -> Vec<String> {
    let mut v: Vec<String> = rows.iter().map(|r| project(r, keys)).collect();
    v.sort();
    v
}

/// Runs the real `metaxy-tui` binary in `dir` with a clean Metaxy environment.
/// (The database of a PostgreSQL / ClickHouse scenario is named by `METAXY_FIXTURE_PG` / `METAXY_FIXTURE_CH`, see
/// [`scenario_env`].)
pub fn run_binary(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let pg = scenario_env(dir)
        .into_iter()
        .filter(|(k, _)| k != "METAXY_FIXTURE_DIR");
    std::process::Command::new(env!("CARGO_BIN_EXE_metaxy-tui"))
        .args(args)
        .current_dir(dir)
        .env_remove("METAXY_CONFIG")
        .env_remove("METAXY_CONFIG_FILE")
        .env_remove("METAXY_FIXTURE_DIR")
        .envs(pg)
        .output()
        .expect("binary runs")
}

/// Parses an `expected/cli/*.txt` capture into (exit code, stdout, stderr).
pub fn cli_capture_streams(path: PathBuf) -> (i32, String, String) {
    let (code, stdout) = cli_capture(path.clone());
    let text = std::fs::read_to_string(&path).unwrap();
    let stderr = text
        .split_once("# --- stderr ---\n")
        .map(|(_, e)| e.to_string())
        .unwrap_or_default();
    (code, stdout, stderr)
}

/// `tests/fixtures/cli_extra/<scenario>/<name>.txt`: real Metaxy 0.1.11 outputs captured by
/// `tests/fixtures/cli_extra/capture.sh` for commands the reference kit did not capture.
pub fn extra_capture(scenario: &str, name: &str) -> (i32, String, String) {
    cli_capture_streams(
        fixtures()
            .join("cli_extra")
            .join(scenario)
            .join(format!("{name}.txt")),
    )
}

/// Copies a directory tree; Iceberg warehouses in it (`store*/catalog.db`) are relocated to their new place.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    copy_tree(from, to);
    relocate_iceberg(to);
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

/// Rewrites the absolute paths of every Iceberg warehouse directly under `dir` (a directory holding `catalog.db`)
/// to the warehouse's current place: the catalog's `metadata_location` columns, the metadata JSON files, and the
/// paths inside manifest lists and manifests (Avro files re-encoded with their schema and metadata). The old
/// warehouse path is read from the catalog (`file://<old>/<namespace>/<table>/metadata/...`).
pub fn relocate_iceberg(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let wh = e.path();
        if wh.join("catalog.db").is_file() {
            relocate_warehouse(&std::fs::canonicalize(&wh).unwrap());
        }
    }
}

fn relocate_warehouse(wh: &std::path::Path) {
    use sqlx::{ConnectOptions, Row};
    let db = wh.join("catalog.db");
    let new = format!("file://{}/", wh.display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let old = rt.block_on(async {
        let mut c = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db)
            .connect()
            .await
            .unwrap();
        let rows = sqlx::query(
            "SELECT table_namespace, table_name, metadata_location FROM iceberg_tables",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        let r = rows.first()?;
        let (ns, t, loc): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        let tail = format!("{}/{t}/metadata/", ns.replace('.', "/"));
        let old = format!(
            "{}/",
            &loc[..loc.find(&tail).unwrap()].trim_end_matches('/')
        );
        if old != new {
            for col in ["metadata_location", "previous_metadata_location"] {
                sqlx::query(&format!(
                    "UPDATE iceberg_tables SET {col} = replace({col}, ?, ?)"
                ))
                .bind(&old)
                .bind(&new)
                .execute(&mut c)
                .await
                .unwrap();
            }
        }
        Some(old)
    });
    let Some(old) = old.filter(|o| *o != new) else {
        return;
    };
    let mut stack = vec![wh.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = p.to_string_lossy().to_string();
            if p.is_dir() {
                stack.push(p);
            } else if name.ends_with(".metadata.json") {
                let t = std::fs::read_to_string(&p).unwrap();
                std::fs::write(&p, t.replace(&old, &new)).unwrap();
            } else if name.ends_with(".avro") {
                std::fs::write(&p, relocate_avro(&std::fs::read(&p).unwrap(), &old, &new)).unwrap();
            }
        }
    }
}

/// An Avro container file with every string value starting with `old` rewritten to start with `new`.
fn relocate_avro(bytes: &[u8], old: &str, new: &str) -> Vec<u8> {
    use apache_avro::types::Value;
    fn fix(v: Value, old: &str, new: &str) -> Value {
        match v {
            Value::String(s) if s.starts_with(old) => {
                Value::String(format!("{new}{}", &s[old.len()..]))
            }
            Value::Record(fs) => {
                Value::Record(fs.into_iter().map(|(k, v)| (k, fix(v, old, new))).collect())
            }
            Value::Union(i, b) => Value::Union(i, Box::new(fix(*b, old, new))),
            Value::Array(a) => Value::Array(a.into_iter().map(|v| fix(v, old, new)).collect()),
            Value::Map(m) => {
                Value::Map(m.into_iter().map(|(k, v)| (k, fix(v, old, new))).collect())
            }
            other => other,
        }
    }
    let reader = apache_avro::Reader::new(bytes).unwrap();
    let schema = reader.writer_schema().clone();
    let meta = reader.user_metadata().clone();
    let mut w = apache_avro::Writer::new(&schema, Vec::new());
    for (k, v) in meta {
        w.add_user_metadata(k, v).unwrap();
    }
    for v in reader {
        w.append(fix(v.unwrap(), old, new)).unwrap();
    }
    w.into_inner().unwrap()
}

/// Opens a copy of scenario `s` of backend `b` in `tmp` (so a test may damage it).
pub fn open_copy(b: &str, s: &str, tmp: &std::path::Path) -> Workspace {
    copy_dir(&scenario_dir_in(b, s), tmp);
    let env = scenario_env(tmp);
    Workspace::open(&OpenOptions {
        cwd: tmp.to_path_buf(),
        env,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{b}/{s}: {e}"))
}

/// The PostgreSQL test server (`tests/services/postgres.sh start`): `METAXY_TUI_PG_URL`, default
/// `postgresql://postgres@127.0.0.1:55432`, started with `tests/services/postgres.sh start` when no URL is given and
/// nothing answers there. Panics with how to start it when it still cannot be reached: the PostgreSQL tests never
/// skip.
pub fn pg_server() -> String {
    static CHECKED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let given = std::env::var("METAXY_TUI_PG_URL").ok();
            let url = given
                .clone()
                .unwrap_or_else(|| "postgresql://postgres@127.0.0.1:55432".into());
            let url = url.trim_end_matches('/').to_string();
            // no server given and none running: start the throwaway one (as `.ci/run` does), so a bare
            // `cargo test` works on a fresh machine with Debian's `postgresql` package
            if given.is_none() && pg_exec(&url, "postgres", "SELECT 1").is_err() {
                let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/services/postgres.sh");
                let _ = std::process::Command::new("bash")
                    .arg(script)
                    .arg("start")
                    .status();
            }
            if let Err(e) = pg_exec(&url, "postgres", "SELECT 1") {
                panic!(
                    "the PostgreSQL test server is not reachable at {url} ({e}); start it with \
                     `tests/services/postgres.sh start` (or set METAXY_TUI_PG_URL)"
                );
            }
            // databases left behind by earlier test processes that are gone
            let stale = pg_query(
                &url,
                "SELECT datname FROM pg_database WHERE datname LIKE 'mxt\\_%'",
            );
            for db in stale {
                let pid = db.split('_').nth(1).unwrap_or("");
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = pg_exec(&url, "postgres", &format!("DROP DATABASE IF EXISTS {db}"));
                }
            }
            url
        })
        .clone()
}

fn pg_connect(url: &str, db: &str) -> Result<tokio_postgres::Client, String> {
    let url = format!("{url}/{db}");
    metaxy_tui::engine::rt::block_on(async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    })
}

/// Runs `sql` (several statements allowed) in database `db` of server `url`.
pub fn pg_exec(url: &str, db: &str, sql: &str) -> Result<(), String> {
    let client = pg_connect(url, db)?;
    metaxy_tui::engine::rt::block_on(client.batch_execute(sql)).map_err(|e| e.to_string())
}

/// The first column of every row of `sql` in the `postgres` database, as text.
pub fn pg_query(url: &str, sql: &str) -> Vec<String> {
    let client = pg_connect(url, "postgres").unwrap();
    metaxy_tui::engine::rt::block_on(client.simple_query(sql))
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect()
}

/// A new empty database on the test server, loaded with the SQL dump `dump` when given; returns its URL.
pub fn pg_fresh_db(dump: Option<&std::path::Path>) -> String {
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let url = pg_server();
    let db = format!(
        "mxt_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    pg_exec(&url, "postgres", &format!("CREATE DATABASE {db}")).unwrap();
    if let Some(dump) = dump {
        let sql = std::fs::read_to_string(dump).unwrap();
        pg_exec(&url, &db, &sql).unwrap_or_else(|e| panic!("{}: {e}", dump.display()));
    }
    format!("{url}/{db}")
}

/// The environment a fixture directory `dir` (a scenario of some backend, or a copy of one) is opened with:
/// `METAXY_FIXTURE_DIR`; for PostgreSQL scenarios `METAXY_FIXTURE_PG` / `METAXY_FIXTURE_PG_ARCHIVE` naming
/// databases loaded from the directory's `store.sql` / `store_archive.sql` (an empty one without it); for ClickHouse
/// scenarios `METAXY_FIXTURE_CH` / `METAXY_FIXTURE_CH_ARCHIVE` from `store.ch.sql` / `store_archive.ch.sql`. The
/// databases are made on the first call for `dir` and shared by later calls for the same directory (so the binary,
/// the engine and real Metaxy all see one store).
pub fn scenario_env(dir: &std::path::Path) -> BTreeMap<String, String> {
    static MADE: std::sync::Mutex<BTreeMap<PathBuf, BTreeMap<String, String>>> =
        std::sync::Mutex::new(BTreeMap::new());
    let mut env = BTreeMap::new();
    env.insert("METAXY_FIXTURE_DIR".to_string(), dir.display().to_string());
    let dump = dir.join("store.sql");
    let ch_dump = dir.join("store.ch.sql");
    if !dump.is_file() && !ch_dump.is_file() {
        return env;
    }
    let mut made = MADE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = made.get(dir) {
        return e.clone();
    }
    if dump.is_file() {
        env.insert("METAXY_FIXTURE_PG".into(), pg_fresh_db(Some(&dump)));
        let archive = dir.join("store_archive.sql");
        env.insert(
            "METAXY_FIXTURE_PG_ARCHIVE".into(),
            pg_fresh_db(archive.is_file().then_some(archive.as_path())),
        );
    } else {
        env.insert("METAXY_FIXTURE_CH".into(), ch_fresh_db(Some(&ch_dump)));
        let archive = dir.join("store_archive.ch.sql");
        env.insert(
            "METAXY_FIXTURE_CH_ARCHIVE".into(),
            ch_fresh_db(archive.is_file().then_some(archive.as_path())),
        );
    }
    made.insert(dir.to_path_buf(), env.clone());
    env
}

/// The ClickHouse test server (`tests/services/clickhouse.sh start`: ClickHouse 26.9 through chDB behind a loopback
/// HTTP front): `METAXY_TUI_CH_URL`, default `http://127.0.0.1:18123`, started with the script when no URL is given
/// and nothing answers there. Panics with how to start it when it still cannot be reached: the ClickHouse tests
/// never skip. Databases left by earlier test processes that are gone are dropped.
pub fn ch_server() -> String {
    static CHECKED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let given = std::env::var("METAXY_TUI_CH_URL").ok();
            let url = given
                .clone()
                .unwrap_or_else(|| "http://127.0.0.1:18123".into())
                .trim_end_matches('/')
                .to_string();
            if given.is_none() && ch_exec(&url, "default", "SELECT 1", None).is_err() {
                let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/services/clickhouse.sh");
                let _ = std::process::Command::new("bash")
                    .arg(script)
                    .arg("start")
                    .status();
            }
            if let Err(e) = ch_exec(&url, "default", "SELECT 1", None) {
                panic!(
                    "the ClickHouse test server is not reachable at {url} ({e}); start it with \
                     `tests/services/clickhouse.sh start` (or set METAXY_TUI_CH_URL)"
                );
            }
            let stale = ch_exec(
                &url,
                "default",
                "SELECT name FROM system.databases WHERE startsWith(name, 'mxt_') FORMAT TSVRaw",
                None,
            )
            .unwrap_or_default();
            for db in stale.lines() {
                let pid = db.split('_').nth(1).unwrap_or("");
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = ch_exec(
                        &url,
                        "default",
                        &format!("DROP DATABASE IF EXISTS `{db}`"),
                        None,
                    );
                }
            }
            url
        })
        .clone()
}

/// Runs one statement in database `db` of the ClickHouse server `url` (with `data` as the body of an `INSERT ...
/// FORMAT`), through the store's own HTTP client; returns the answer as text.
pub fn ch_exec(url: &str, db: &str, sql: &str, data: Option<&str>) -> Result<String, String> {
    use metaxy_tui::engine::store::clickhouse::conn::{Conn, ConnSpec};
    let spec = ConnSpec::from_url(&format!("{url}/{db}"))?;
    let conn = Conn::new(spec).map_err(|e| e.message)?;
    let data = data.map(|d| d.as_bytes().to_vec());
    metaxy_tui::engine::rt::block_on(conn.request(sql, data, &[]))
        .map(|b| String::from_utf8_lossy(&b).to_string())
        .map_err(|e| e.message)
}

/// Loads a ClickHouse dump (`tests/fixtures/gen/gen_clickhouse.py`: chunks separated by blank lines, each a
/// `CREATE TABLE` or an `INSERT INTO t FORMAT JSONEachRow` line followed by its rows) into database `db`.
pub fn ch_load(url: &str, db: &str, dump: &std::path::Path) {
    let text = std::fs::read_to_string(dump).unwrap();
    for chunk in text.split("\n\n") {
        let chunk: String = chunk
            .lines()
            .filter(|l| !l.starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        let chunk = chunk.trim();
        if chunk.is_empty() {
            continue;
        }
        let res = match chunk.split_once('\n') {
            Some((head, rows)) if head.starts_with("INSERT INTO") => {
                ch_exec(url, db, head, Some(&format!("{rows}\n")))
            }
            _ => ch_exec(url, db, chunk.trim_end_matches(';'), None),
        };
        res.unwrap_or_else(|e| panic!("{}: {e}", dump.display()));
    }
}

/// A new empty database on the ClickHouse test server, loaded with the dump `dump` when given; returns the
/// `clickhouse://` connection string Metaxy and the store take.
pub fn ch_fresh_db(dump: Option<&std::path::Path>) -> String {
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let url = ch_server();
    let db = format!(
        "mxt_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    ch_exec(&url, "default", &format!("CREATE DATABASE `{db}`"), None).unwrap();
    if let Some(dump) = dump {
        ch_load(&url, &db, dump);
    }
    let hostport = url.split_once("://").map(|(_, h)| h).unwrap_or(&url);
    format!("clickhouse://default@{hostport}/{db}")
}

/// An Iceberg REST catalog server for one test (`tests/services/iceberg_rest.py` run with the round-trip venv's
/// python: pyiceberg's `SqlCatalog` on a warehouse's `catalog.db` behind the REST API, on a free loopback port).
/// Killed when dropped; it also exits by itself when the test process is gone (its stdin closes).
pub struct IcebergRestServer {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub uri: String,
}

impl Drop for IcebergRestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts an [`IcebergRestServer`] over the SQL catalog of `warehouse` (`<warehouse>/catalog.db`, catalog name
/// `metaxy`); with `token`, every request must carry it as a bearer token; with `prefix`, the server's config
/// answers that path prefix and serves the API under it.
pub fn iceberg_rest_server(
    warehouse: &std::path::Path,
    token: Option<&str>,
    prefix: Option<&str>,
) -> IcebergRestServer {
    use std::io::BufRead;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/services/iceberg_rest.py");
    let mut cmd = std::process::Command::new(crate::roundtrip::metaxy_python());
    cmd.arg(script)
        .arg("--db")
        .arg(warehouse.join("catalog.db"))
        .arg("--warehouse")
        .arg(warehouse)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    if let Some(t) = token {
        cmd.arg("--token").arg(t);
    }
    if let Some(p) = prefix {
        cmd.arg("--prefix").arg(p);
    }
    let mut child = cmd.spawn().expect("the REST catalog server starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .strip_prefix("PORT ")
        .unwrap_or_else(|| panic!("iceberg_rest.py did not start: {line:?}"))
        .trim()
        .to_string();
    IcebergRestServer {
        child,
        uri: format!("http://127.0.0.1:{port}"),
    }
}
