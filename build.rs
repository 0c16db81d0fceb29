//! Build script: makes sure the prebuilt DuckDB shared library exists and adds an rpath to it.
//!
//! DuckDB is linked dynamically against `libduckdb` of the same version as the `duckdb` crate (1.5.6), taken from
//! the npm package `@duckdb/node-bindings-<platform>` (a clean, linkable build of DuckDB; compiling DuckDB from
//! source takes ~40 minutes on 2 cores). `.cargo/config.toml` points `DUCKDB_LIB_DIR` at `.duckdb/lib`; when the
//! library is missing there, this script fetches it with `npm pack` (npm only needs registry access). Machines
//! without npm can build with `--features bundled` instead.

use std::path::{Path, PathBuf};
use std::process::Command;

const DUCKDB_NPM_VERSION: &str = "1.5.6-r.1";

fn platform() -> Option<(&'static str, &'static str)> {
    let os = std::env::var("CARGO_CFG_TARGET_OS").ok()?;
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").ok()?;
    match (os.as_str(), arch.as_str()) {
        ("linux", "x86_64") => Some(("linux-x64", "libduckdb.so")),
        ("linux", "aarch64") => Some(("linux-arm64", "libduckdb.so")),
        ("macos", "aarch64") => Some(("darwin-arm64", "libduckdb.dylib")),
        ("macos", "x86_64") => Some(("darwin-x64", "libduckdb.dylib")),
        _ => None,
    }
}

fn fetch(dir: &Path, pkg: &str, lib: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let tmp =
        PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?).join("duckdb-npm");
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    let spec = format!("@duckdb/node-bindings-{pkg}@{DUCKDB_NPM_VERSION}");
    let out = Command::new("npm")
        .args(["pack", &spec, "--silent", "--pack-destination"])
        .arg(&tmp)
        .output()
        .map_err(|e| format!("running npm: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "npm pack {spec} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let tgz = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    let status = Command::new("tar")
        .arg("xzf")
        .arg(tmp.join(&tgz))
        .arg("-C")
        .arg(&tmp)
        .arg(format!("package/{lib}"))
        .status()
        .map_err(|e| format!("running tar: {e}"))?;
    if !status.success() {
        return Err(format!("extracting {lib} from {tgz} failed"));
    }
    let staged = dir.join(format!("{lib}.partial"));
    std::fs::copy(tmp.join("package").join(lib), &staged).map_err(|e| e.to_string())?;
    std::fs::rename(&staged, dir.join(lib)).map_err(|e| e.to_string())?;
    Ok(())
}

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_BUNDLED").is_some() {
        return;
    }
    let Some(dir) = std::env::var_os("DUCKDB_LIB_DIR") else {
        return;
    };
    let dir = PathBuf::from(dir);
    if let Some((pkg, lib)) = platform() {
        println!("cargo:rerun-if-changed={}", dir.join(lib).display());
        if !dir.join(lib).exists() {
            if let Err(e) = fetch(&dir, pkg, lib) {
                panic!(
                    "libduckdb is missing from {} and could not be fetched: {e}\n\
                     Either install npm (the library comes from the npm package @duckdb/node-bindings-{pkg}), \
                     put {lib} of DuckDB 1.5.6 there yourself, or build DuckDB from source with `--features bundled`.",
                    dir.display()
                );
            }
        }
    }
    let dir = dir.canonicalize().unwrap_or(dir);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
}
