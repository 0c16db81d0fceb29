//! PostgreSQL over TLS with libpq's `sslmode` semantics: the test server (`tests/services/postgres.sh`) runs with a
//! self-signed certificate and a role `tlsonly` that `pg_hba.conf` admits over TLS only, so a connection that did
//! not encrypt is refused by the server itself.

use std::path::PathBuf;

use metaxy_tui::engine::keys::FeatureKey;
use metaxy_tui::engine::query::read::ReadOptions;
use metaxy_tui::engine::workspace::{OpenOptions, Workspace};

use crate::common::*;

/// The test server's certificate (`METAXY_TUI_PG_CA`, else where `postgres.sh` puts it).
fn server_ca() -> PathBuf {
    if let Ok(p) = std::env::var("METAXY_TUI_PG_CA") {
        return PathBuf::from(p);
    }
    let uid = std::process::Command::new("id").arg("-u").output().unwrap();
    let uid = String::from_utf8_lossy(&uid.stdout).trim().to_string();
    let tmp = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into());
    PathBuf::from(tmp).join(format!("metaxy-tui-pg-{uid}/server.crt"))
}

/// Opens the s01 PostgreSQL fixture as user `tlsonly` with `query` appended to its URL.
fn open_tls(query: &str) -> Result<Workspace, String> {
    let dir = scenario_dir_in("postgres", "s01_initial");
    let mut env = scenario_env(&dir);
    let url = env["METAXY_FIXTURE_PG"].replacen("postgres@", "tlsonly@", 1);
    env.insert("METAXY_FIXTURE_PG".into(), format!("{url}?{query}"));
    let ws = Workspace::open(&OpenOptions {
        cwd: dir,
        env,
        ..Default::default()
    })
    .map_err(|e| e.to_string())?;
    // a read goes over a new connection with the same settings
    let key = FeatureKey::parse("example/video").unwrap();
    ws.read(&key, &ReadOptions::default())
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

#[test]
fn sslmode_require_and_verify_full_reach_a_tls_only_role() {
    let _ = pg_server();
    let ca = server_ca();
    assert!(
        ca.is_file(),
        "{}: run tests/services/postgres.sh start",
        ca.display()
    );
    open_tls("sslmode=require").unwrap();
    open_tls("sslmode=prefer").unwrap();
    open_tls(&format!("sslmode=verify-full&sslrootcert={}", ca.display())).unwrap();
    open_tls(&format!("sslmode=verify-ca&sslrootcert={}", ca.display())).unwrap();
}

#[test]
fn sslmode_disable_is_refused_by_the_server_and_untrusted_certificates_fail_verification() {
    let _ = pg_server();
    let e = open_tls("sslmode=disable").err().unwrap();
    assert!(e.contains("no encryption"), "{e}");
    assert!(!e.contains('\n'), "{e}");
    // the self-signed certificate is not in the system trust store
    let e = open_tls("sslmode=verify-full&sslrootcert=system")
        .err()
        .unwrap();
    assert!(e.to_lowercase().contains("certificate"), "{e}");
    assert!(!e.contains('\n'), "{e}");
    let e = open_tls("sslmode=sometimes").err().unwrap();
    assert!(e.contains("invalid sslmode \"sometimes\""), "{e}");
    let e = open_tls("sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
        .err()
        .unwrap();
    assert!(e.contains("/nonexistent/ca.pem"), "{e}");
}
