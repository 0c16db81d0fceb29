//! Object-store URIs against a local S3-compatible server (moto, from PyPI) on loopback: the Delta and LanceDB
//! copies of the `s02_mutated` fixture are uploaded to a bucket, opened through `s3://` URIs with storage options,
//! and must read and resolve exactly like the same stores on local disk (which the conformance suite checks
//! against Metaxy).
//!
//! The test installs `moto[server]` into `~/.cache/metaxy-tui-moto` on first use (PyPI must be reachable) unless
//! `METAXY_TUI_MOTO_SERVER` points at a `moto_server` executable.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use metaxy_tui::engine::workspace::{OpenOptions, Workspace};

use crate::common::*;

/// `moto_server` (and the Python next to it, which has boto3), installing them on first use.
fn moto() -> (PathBuf, PathBuf) {
    if let Ok(p) = std::env::var("METAXY_TUI_MOTO_SERVER") {
        let server = PathBuf::from(p);
        let python = server.with_file_name("python");
        return (server, python);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    let venv = PathBuf::from(home).join(".cache/metaxy-tui-moto");
    let server = venv.join("bin/moto_server");
    let python = venv.join("bin/python");
    if !server.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
            && Command::new(venv.join("bin/pip"))
                .args(["install", "-q", "moto[server]>=5,<6"])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
        assert!(
            ok && server.exists(),
            "the S3 test needs moto[server] from PyPI (python3 -m venv {} && pip install 'moto[server]')",
            venv.display()
        );
    }
    (server, python)
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_server(server: &Path, port: u16) -> Server {
    let child = Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let s = Server(child);
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "moto_server did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    s
}

/// Creates bucket `metaxy` and uploads `dirs` (local dir -> key prefix) with boto3.
fn upload(python: &Path, endpoint: &str, dirs: &[(PathBuf, &str)]) {
    let mut script = format!(
        "import boto3, os\ns3 = boto3.client('s3', endpoint_url='{endpoint}', aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')\ns3.create_bucket(Bucket='metaxy')\n"
    );
    for (dir, prefix) in dirs {
        script.push_str(&format!(
            "root = {:?}\nfor d, _, fs in os.walk(root):\n    for f in fs:\n        p = os.path.join(d, f)\n        s3.upload_file(p, 'metaxy', '{prefix}/' + os.path.relpath(p, root))\n",
            dir.display().to_string()
        ));
    }
    let mut child = Command::new(python)
        .arg("-")
        .stdin(Stdio::piped())
        .spawn()
        .expect("python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "upload to moto failed");
}

fn open(config: &str, cwd: &Path) -> Workspace {
    let file = cwd.join("metaxy.toml");
    std::fs::write(&file, config).unwrap();
    let opts = OpenOptions {
        config_file: Some(file),
        cwd: cwd.to_path_buf(),
        ..Default::default()
    };
    Workspace::open(&opts).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn delta_and_lance_stores_on_s3_read_like_local_ones() {
    let (server, python) = moto();
    let port = free_port();
    let _srv = start_server(&server, port);
    let endpoint = format!("http://127.0.0.1:{port}");
    let delta_local = scenario_dir_in("delta", "s02_mutated").join("store");
    let lance_local = scenario_dir_in("lancedb", "s02_mutated").join("store");
    upload(
        &python,
        &endpoint,
        &[
            (delta_local.clone(), "delta"),
            (lance_local.clone(), "lance"),
        ],
    );
    let tmp = tempfile::tempdir().unwrap();
    let creds = format!(
        "AWS_ENDPOINT_URL = \"{endpoint}\"\nAWS_ACCESS_KEY_ID = \"test\"\nAWS_SECRET_ACCESS_KEY = \"test\"\nAWS_REGION = \"us-east-1\"\nAWS_ALLOW_HTTP = \"true\"\n"
    );
    let delta_s3 = open(
        &format!("project = \"example_overview\"\nstore = \"dev\"\n[stores.dev]\ntype = \"metaxy.ext.polars.handlers.delta.DeltaMetadataStore\"\n[stores.dev.config]\nroot_path = \"s3://metaxy/delta\"\n[stores.dev.config.storage_options]\n{creds}"),
        tmp.path(),
    );
    let lance_s3 = open(
        &format!("project = \"example_overview\"\nstore = \"dev\"\n[stores.dev]\ntype = \"metaxy.ext.lancedb.LanceDBMetadataStore\"\n[stores.dev.config]\nuri = \"s3://metaxy/lance\"\n[stores.dev.config.connect_kwargs.storage_options]\naws_endpoint = \"{endpoint}\"\naws_access_key_id = \"test\"\naws_secret_access_key = \"test\"\naws_region = \"us-east-1\"\nallow_http = \"true\"\n"),
        tmp.path(),
    );
    assert_eq!(delta_s3.graph.features.len(), 7);
    assert_eq!(lance_s3.graph.features.len(), 7);
    let delta_disk = open_scenario_in("delta", "s02_mutated");
    let lance_disk = open_scenario_in("lancedb", "s02_mutated");
    let want = observe(&delta_disk, &delta_disk.store.location(), false);
    assert!(want.contains("\"needs_update\":true"), "{want}");
    let got = observe(&delta_s3, "s3://metaxy/delta", false);
    assert_eq!(got, want, "delta on s3");
    assert_eq!(
        observe(&lance_s3, "s3://metaxy/lance", false),
        observe(&lance_disk, &lance_disk.store.location(), false),
        "lance on s3"
    );
}
