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

/// Where libduckdb comes from: `DUCKDB_LIB_DIR` (set by `.cargo/config.toml` inside the checkout), else
/// `<crate>/.duckdb/lib`, so that `cargo install --path <checkout>` run from anywhere finds the same library.
fn lib_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DUCKDB_LIB_DIR") {
        return Some(PathBuf::from(dir));
    }
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")?;
    Some(PathBuf::from(manifest).join(".duckdb").join("lib"))
}

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    println!("cargo:rerun-if-env-changed=METAXY_TUI_RELOCATABLE");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_BUNDLED").is_some() {
        return;
    }
    let Some(dir) = lib_dir() else {
        return;
    };
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
    // libduckdb-sys adds this search path itself when DUCKDB_LIB_DIR is set; without it (cargo install from outside
    // the checkout) it only asks for `-lduckdb`, so say where the library is.
    println!("cargo:rustc-link-search=native={}", dir.display());
    // Run-time search path. The binary always looks next to itself first, then in `../lib` (the layout of the
    // Python wheel and of a relocatable tarball: bin/metaxy-tui + lib/libduckdb.so). Developer builds (tests,
    // `cargo run`, `cargo install --path`) also carry the absolute library directory of the checkout;
    // `METAXY_TUI_RELOCATABLE=1` (scripts/build-wheel.sh) leaves it out so no build-tree path is shipped.
    let origin = if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("macos") {
        "@loader_path"
    } else {
        "$ORIGIN"
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{origin}");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{origin}/../lib");
    // Release binaries: identical code folding in the linker (lld): merges byte-identical functions, which Rust's
    // monomorphised generics produce by the thousand (size measured in README "Install").
    if std::env::var("PROFILE").as_deref() == Ok("release")
        && std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
    {
        println!("cargo:rustc-link-arg-bins=-Wl,--icf=all");
    }
    if std::env::var_os("METAXY_TUI_RELOCATABLE").is_none_or(|v| v.is_empty() || v == "0") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    }
}
