//! Tests of the config loader (discovery, `extend`, interpolation, env overrides, validation) against Metaxy 0.1.11.

use super::*;
#[allow(unused_imports)]
use crate::engine::config::{
    discover::*, env::*, error::*, extend::*, kinds::*, model::*, validate::*,
};
use std::fs;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(path, text).expect("write");
}

const DUCK: &str = r#"
project = "example_overview"
entrypoints = ["example_overview.features"]
auto_create_tables = true
store = "dev"

[stores.dev]
type = "metaxy.ext.duckdb.DuckDBMetadataStore"

[stores.dev.config]
database = "${METAXY_FIXTURE_DIR:-.}/store/metadata.duckdb"
"#;

fn parse(text: &str, e: &BTreeMap<String, String>) -> Result<MetaxyConfig, ConfigError> {
    MetaxyConfig::from_toml_str(text, Path::new("/"), e)
}

#[test]
fn fixture_config_print_json_matches_metaxy() {
    let e = env(&[("METAXY_FIXTURE_DIR", "<fixtures>/duckdb/s01_initial")]);
    let cfg = parse(DUCK, &e).expect("config");
    let expected = r#"{
  "store": "dev",
  "stores": {
    "dev": {
      "type": "metaxy.ext.duckdb.DuckDBMetadataStore",
      "config": {
        "database": "<fixtures>/duckdb/s01_initial/store/metadata.duckdb"
      }
    }
  },
  "extend": null,
  "entrypoints": [
    "example_overview.features"
  ],
  "theme": "default",
  "ext": {},
  "hash_truncation_length": 8,
  "enable_map_datatype": false,
  "auto_create_tables": true,
  "project": "example_overview",
  "locked": null,
  "sync": true,
  "extra_features": [],
  "metaxy_lock_path": null
}"#;
    assert_eq!(cfg.to_print_json_string(), expected);
    let st = cfg.store_config(None).expect("store");
    assert_eq!(st.kind, StoreKind::DuckDb);
    assert_eq!(st.kind.display_name(), "DuckDBMetadataStore");
    assert_eq!(st.hash_algorithm, HashAlgorithm::Xxhash32);
    assert!(!st.deprecated_type);
    assert!(st.fallback_stores.is_empty());
    assert_eq!(
        st.location().expect("loc"),
        "<fixtures>/duckdb/s01_initial/store/metadata.duckdb"
    );
    assert!(cfg.warnings.is_empty());
}

#[test]
fn real_fixture_files_load_if_present() {
    let root = Path::new("/work/shared/metaxy/fixtures");
    for (backend, kind) in [
        ("duckdb", StoreKind::DuckDb),
        ("delta", StoreKind::Delta),
        ("lancedb", StoreKind::LanceDb),
    ] {
        let dir = root.join(backend).join("s01_initial");
        let golden = dir.join("expected/cli/s01_config_print_json.txt");
        if !golden.exists() {
            continue;
        }
        let e = env(&[(
            "METAXY_FIXTURE_DIR",
            &format!("<fixtures>/{backend}/s01_initial"),
        )]);
        let cfg = MetaxyConfig::load(None, &dir, &e).expect("load");
        assert_eq!(cfg.store_config(None).expect("store").kind, kind);
        let text = fs::read_to_string(&golden).expect("golden");
        let start = text.find("# --- stdout ---\n").expect("stdout marker") + 17;
        let end = text.find("\n# --- stderr ---").expect("stderr marker");
        assert_eq!(cfg.to_print_json_string(), text[start..end].trim_end());
    }
}

#[test]
fn defaults_when_nothing_found() {
    let d = tmp();
    let cfg = MetaxyConfig::load(None, d.path(), &env(&[])).expect("load");
    // A config may exist above the tempdir on odd machines; only assert if none was found.
    if cfg.source.is_none() {
        assert_eq!(cfg, MetaxyConfig::default());
        assert_eq!(cfg.store, "dev");
        assert_eq!(cfg.hash_truncation_length, 8);
        assert!(cfg.sync);
        assert_eq!(cfg.theme, "default");
        assert!(matches!(cfg.store_config(None), Err(ConfigError::NoStores)));
    }
}

#[test]
fn discovery_searches_upward_and_prefers_metaxy_toml() {
    let d = tmp();
    let root = d.path();
    write(&root.join("metaxy.toml"), "project = \"top\"\n");
    write(
        &root.join("a/pyproject.toml"),
        "[project]\nname = \"x\"\n[tool.metaxy]\nproject = \"py\"\n",
    );
    write(&root.join("a/b/c/.keep"), "");
    // from a/b/c: a/pyproject.toml has [tool.metaxy] → found before root metaxy.toml
    let cfg = MetaxyConfig::load(None, &root.join("a/b/c"), &env(&[])).expect("load");
    assert_eq!(cfg.project.as_deref(), Some("py"));
    assert_eq!(
        cfg.source.as_deref(),
        Some(
            fs::canonicalize(root.join("a/pyproject.toml"))
                .expect("c")
                .as_path()
        )
    );
    // metaxy.toml in the same dir wins over pyproject.toml
    write(&root.join("a/metaxy.toml"), "project = \"mx\"\n");
    let cfg = MetaxyConfig::load(None, &root.join("a/b/c"), &env(&[])).expect("load");
    assert_eq!(cfg.project.as_deref(), Some("mx"));
}

#[test]
fn pyproject_without_tool_metaxy_is_skipped() {
    let d = tmp();
    let root = d.path();
    write(&root.join("metaxy.toml"), "project = \"top\"\n");
    write(
        &root.join("sub/pyproject.toml"),
        "[project]\nname = \"x\"\n[tool.ruff]\nline-length = 100\n",
    );
    let cfg = MetaxyConfig::load(None, &root.join("sub"), &env(&[])).expect("load");
    assert_eq!(cfg.project.as_deref(), Some("top"));
    // empty [tool.metaxy] is also skipped
    write(&root.join("sub/pyproject.toml"), "[tool.metaxy]\n");
    let cfg = MetaxyConfig::load(None, &root.join("sub"), &env(&[])).expect("load");
    assert_eq!(cfg.project.as_deref(), Some("top"));
    // but an explicit pyproject without [tool.metaxy] yields defaults with that source
    write(
        &root.join("sub/pyproject.toml"),
        "[project]\nname = \"x\"\n",
    );
    let cfg = MetaxyConfig::from_file(&root.join("sub/pyproject.toml"), &env(&[])).expect("load");
    assert_eq!(cfg.project, None);
    assert!(cfg.source.is_some());
}

#[test]
fn invalid_pyproject_during_discovery_is_an_error() {
    let d = tmp();
    write(&d.path().join("pyproject.toml"), "[tool.metaxy\n");
    let err = MetaxyConfig::load(None, d.path(), &env(&[])).unwrap_err();
    assert!(matches!(err, ConfigError::Toml { .. }), "{err}");
}

#[test]
fn metaxy_config_env_and_explicit_file() {
    let d = tmp();
    let root = d.path();
    write(&root.join("metaxy.toml"), "project = \"discovered\"\n");
    write(&root.join("conf/explicit.toml"), "project = \"explicit\"\n");
    write(&root.join("conf/env.toml"), "project = \"fromenv\"\n");
    let none = env(&[]);
    let cfg = MetaxyConfig::load(Some(Path::new("conf/explicit.toml")), root, &none).expect("load");
    assert_eq!(cfg.project.as_deref(), Some("explicit"));
    let e = env(&[("METAXY_CONFIG", "conf/env.toml")]);
    let cfg = MetaxyConfig::load(None, root, &e).expect("load");
    assert_eq!(cfg.project.as_deref(), Some("fromenv"));
    // Metaxy 0.1.11: METAXY_CONFIG overrides the explicit config_file argument.
    let cfg = MetaxyConfig::load(Some(Path::new("conf/explicit.toml")), root, &e).expect("load");
    assert_eq!(cfg.project.as_deref(), Some("fromenv"));
    // empty METAXY_CONFIG is ignored
    let e = env(&[("METAXY_CONFIG", "")]);
    let cfg = MetaxyConfig::load(None, root, &e).expect("load");
    assert_eq!(cfg.project.as_deref(), Some("discovered"));
    // missing file → Io
    let e = env(&[("METAXY_CONFIG", "nope.toml")]);
    assert!(matches!(
        MetaxyConfig::load(None, root, &e),
        Err(ConfigError::Io { .. })
    ));
}

#[test]
fn extend_merge_semantics() {
    let d = tmp();
    let root = d.path();
    write(
        &root.join("base/base.toml"),
        r#"
project = "base"
entrypoints = ["a"]
theme = "dark"
[stores.dev]
type = "metaxy.ext.duckdb.DuckDBMetadataStore"
[stores.dev.config]
database = "base.duckdb"
hash_algorithm = "md5"
[stores.shared]
type = "metaxy.ext.lancedb.LanceDBMetadataStore"
[stores.shared.config]
uri = "s3://x/${WHERE:-lance}"
"#,
    );
    write(
        &root.join("proj/metaxy.toml"),
        r#"
extend = "../base/base.toml"
project = "child"
entrypoints = ["b"]
[stores.dev]
type = "metaxy.ext.duckdb.DuckDBMetadataStore"
[stores.dev.config]
database = "child.duckdb"
"#,
    );
    let cfg = MetaxyConfig::from_file(&root.join("proj/metaxy.toml"), &env(&[])).expect("load");
    assert_eq!(cfg.project.as_deref(), Some("child"));
    assert_eq!(cfg.theme, "dark");
    assert_eq!(cfg.entrypoints, vec!["a", "b"]);
    // one-level merge: child's stores.dev replaces the parent's entirely
    let names: Vec<_> = cfg.stores.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["dev", "shared"]);
    let dev = cfg.store_config(Some("dev")).expect("dev");
    assert_eq!(dev.location().expect("loc"), "child.duckdb");
    assert_eq!(dev.hash_algorithm, HashAlgorithm::Xxhash32);
    assert!(!dev.config.contains_key("hash_algorithm"));
    // interpolation also applies to values inherited from the parent
    let shared = cfg.store_config(Some("shared")).expect("shared");
    assert_eq!(shared.location().expect("loc"), "s3://x/lance");
    // extend is consumed, as in Metaxy
    assert_eq!(cfg.extend, None);
    assert_eq!(cfg.to_print_json()["extend"], Value::Null);
    assert_eq!(
        cfg.extend_chain,
        vec![fs::canonicalize(root.join("base/base.toml")).expect("c")]
    );
}

#[test]
fn extend_chain_of_three_and_pyproject_parent() {
    let d = tmp();
    let root = d.path();
    write(
        &root.join("pyproject.toml"),
        "[tool.metaxy]\nentrypoints = [\"p\"]\nhash_truncation_length = 12\n",
    );
    write(
        &root.join("mid/mid.toml"),
        "extend = \"../pyproject.toml\"\nentrypoints = [\"m\"]\n",
    );
    write(
        &root.join("leaf/metaxy.toml"),
        "extend = \"../mid/mid.toml\"\nentrypoints = [\"l\"]\n",
    );
    let cfg = MetaxyConfig::from_file(&root.join("leaf/metaxy.toml"), &env(&[])).expect("load");
    assert_eq!(cfg.entrypoints, vec!["p", "m", "l"]);
    assert_eq!(cfg.hash_truncation_length, 12);
    assert_eq!(cfg.extend_chain.len(), 2);
}

#[test]
fn extend_cycle_and_missing() {
    let d = tmp();
    let root = d.path();
    write(&root.join("a.toml"), "extend = \"b.toml\"\n");
    write(&root.join("b.toml"), "extend = \"a.toml\"\n");
    let err = MetaxyConfig::from_file(&root.join("a.toml"), &env(&[])).unwrap_err();
    match &err {
        ConfigError::ExtendCycle { path, chain } => {
            assert_eq!(path, &fs::canonicalize(root.join("a.toml")).expect("c"));
            assert_eq!(chain.len(), 2);
        }
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("circular"));
    write(&root.join("self.toml"), "extend = \"self.toml\"\n");
    assert!(matches!(
        MetaxyConfig::from_file(&root.join("self.toml"), &env(&[])),
        Err(ConfigError::ExtendCycle { .. })
    ));
    write(&root.join("c.toml"), "extend = \"missing.toml\"\n");
    assert!(matches!(
        MetaxyConfig::from_file(&root.join("c.toml"), &env(&[])),
        Err(ConfigError::ExtendNotFound { .. })
    ));
    // extend from an inline string is relative to base_dir
    let cfg =
        MetaxyConfig::from_toml_str("extend = \"b2.toml\"\nproject = \"x\"\n", root, &env(&[]));
    assert!(matches!(cfg, Err(ConfigError::ExtendNotFound { .. })));
    write(&root.join("b2.toml"), "theme = \"t\"\n");
    let cfg = MetaxyConfig::from_toml_str("extend = \"b2.toml\"\n", root, &env(&[])).expect("ok");
    assert_eq!(cfg.theme, "t");
}

#[test]
fn extend_path_is_not_interpolated() {
    let d = tmp();
    let root = d.path();
    write(&root.join("${X}.toml"), "theme = \"literal\"\n");
    let e = env(&[("X", "other")]);
    let cfg = MetaxyConfig::from_toml_str("extend = \"${X}.toml\"\n", root, &e).expect("ok");
    assert_eq!(cfg.theme, "literal");
}

#[test]
fn interpolation_rules() {
    let e = env(&[("SET", "v"), ("EMPTY", "")]);
    assert_eq!(
        expand_env_string("s3://bucket/${ENV_NAME}/x", &e),
        "s3://bucket//x"
    );
    assert_eq!(expand_env_string("${SET}", &e), "v");
    assert_eq!(expand_env_string("${UNSET:-dflt}", &e), "dflt");
    assert_eq!(expand_env_string("${SET:-dflt}", &e), "v");
    // set-but-empty wins over the default (Python os.environ.get semantics)
    assert_eq!(expand_env_string("${EMPTY:-dflt}", &e), "");
    assert_eq!(expand_env_string("${UNSET:-}", &e), "");
    assert_eq!(expand_env_string("$SET and $${SET}", &e), "$SET and $v");
    assert_eq!(
        expand_env_string("${SET}${SET}/${UNSET:-a:b}", &e),
        "vv/a:b"
    );

    let text = r#"
theme = "${SET}"
entrypoints = ["${SET}.mod", "${UNSET}x"]
[stores."${SET}"]
type = "metaxy.ext.polars.handlers.delta.DeltaMetadataStore"
[stores."${SET}".config]
root_path = "s3://bucket/${ENV_NAME}/x"
storage_options = { token = "${SET:-no}", nested = ["${SET}"] }
"#;
    let cfg = parse(text, &e).expect("cfg");
    assert_eq!(cfg.theme, "v");
    assert_eq!(cfg.entrypoints, vec!["v.mod", "x"]);
    // keys are not expanded
    let st = cfg.store_config(Some("${SET}")).expect("store");
    assert_eq!(st.location().expect("loc"), "s3://bucket//x");
    assert_eq!(
        st.config["storage_options"],
        serde_json::json!({"token": "v", "nested": ["v"]})
    );
}

#[test]
fn env_overrides_scalars_and_nested_store_keys() {
    let e = env(&[
        ("METAXY_STORE", "prod"),
        ("METAXY_HASH_TRUNCATION_LENGTH", "16"),
        ("METAXY_STORES__DEV__CONFIG__DATABASE", "/x.duckdb"),
        (
            "METAXY_STORES__PROD__TYPE",
            "metaxy.ext.lancedb.LanceDBMetadataStore",
        ),
        ("METAXY_STORES__PROD__CONFIG__URI", "/lance"),
        ("metaxy_sync", "FALSE"),
        ("METAXY_LOCKED", "1"),
        ("METAXY_ENABLE_MAP_DATATYPE", "yes"),
        ("METAXY_CONFIG_FILE", "/nonexistent.toml"),
        ("METAXY_LOG_LEVEL", "DEBUG"),
        ("METAXY_FIXTURE_DIR", "/fx"),
        ("METAXY_ENTRYPOINT", "not.json,comma"),
        ("METAXY_STORE__IGNORED", "x"),
        ("METAXY_", "x"),
    ]);
    let text = r#"
store = "dev"
[stores.dev]
type = "metaxy.ext.duckdb.DuckDBMetadataStore"
[stores.dev.config]
database = "${METAXY_FIXTURE_DIR}/a.duckdb"
hash_algorithm = "xxhash64"
"#;
    let cfg = parse(text, &e).expect("cfg");
    assert_eq!(cfg.store, "prod");
    assert_eq!(cfg.hash_truncation_length, 16);
    assert!(!cfg.sync);
    assert_eq!(cfg.locked, Some(true));
    assert!(cfg.enable_map_datatype);
    let dev = cfg.store_config(Some("dev")).expect("dev");
    assert_eq!(dev.location().expect("loc"), "/x.duckdb");
    // other keys of stores.dev.config survive the override
    assert_eq!(dev.hash_algorithm, HashAlgorithm::Xxhash64);
    let prod = cfg.store_config(None).expect("default store = prod");
    assert_eq!(prod.kind, StoreKind::LanceDb);
    assert_eq!(prod.location().expect("loc"), "/lance");
    let names: Vec<_> = cfg.stores.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["dev", "prod"]);
    let printed = cfg.to_print_json();
    assert_eq!(printed["hash_truncation_length"], Value::from(16));
    assert_eq!(printed["stores"]["dev"]["config"]["database"], "/x.duckdb");
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
}

#[test]
fn env_only_store_without_type_is_dropped_with_warning() {
    let e = env(&[("METAXY_STORES__STAGING__CONFIG__DATABASE", "/s.duckdb")]);
    let cfg = parse(DUCK, &e).expect("cfg");
    assert_eq!(cfg.stores.len(), 1);
    assert_eq!(cfg.warnings.len(), 1);
    assert!(cfg.warnings[0].contains("'staging'"));
    assert!(cfg.warnings[0].contains("config.database"));
    // TOML stores without type are dropped too (same Metaxy validator)
    let cfg = parse("[stores.x.config]\ndatabase = \"a\"\n", &env(&[])).expect("cfg");
    assert!(cfg.stores.is_empty());
    assert_eq!(cfg.warnings.len(), 1);
}

#[test]
fn env_complex_values_are_json() {
    let e = env(&[
        ("METAXY_ENTRYPOINTS", r#"["a.b", "c"]"#),
        ("METAXY_EXT__FOO__ENABLE", "true"),
        ("METAXY_EXT__FOO__LEVEL", "3"),
        (
            "METAXY_STORES__DEV__CONFIG",
            r#"{"database": "/j.duckdb", "fallback_stores": ["x"]}"#,
        ),
        (
            "METAXY_EXTRA_FEATURES",
            r#"[{"keys": ["a/b", ["c", "d"]]}]"#,
        ),
    ]);
    let cfg = parse(DUCK, &e).expect("cfg");
    assert_eq!(cfg.entrypoints, vec!["a.b", "c"]);
    assert_eq!(
        Value::Object(cfg.ext.clone()),
        serde_json::json!({"foo": {"enable": true, "level": "3"}})
    );
    let dev = cfg.store_config(None).expect("dev");
    assert_eq!(dev.location().expect("loc"), "/j.duckdb");
    assert_eq!(dev.fallback_stores, vec!["x"]);
    assert_eq!(
        cfg.extra_features,
        vec![serde_json::json!({"projects": null, "keys": ["a/b", "c/d"], "all": null})]
    );

    let bad = env(&[("METAXY_ENTRYPOINTS", "a.b,c")]);
    assert!(matches!(
        parse(DUCK, &bad),
        Err(ConfigError::EnvParse { .. })
    ));
}

#[test]
fn env_bad_scalar_is_invalid_value() {
    let e = env(&[("METAXY_HASH_TRUNCATION_LENGTH", "abc")]);
    assert!(matches!(
        parse(DUCK, &e),
        Err(ConfigError::InvalidValue { .. })
    ));
    let e = env(&[("METAXY_SYNC", "maybe")]);
    assert!(matches!(
        parse(DUCK, &e),
        Err(ConfigError::InvalidValue { .. })
    ));
    let e = env(&[("METAXY_HASH_TRUNCATION_LENGTH", "4")]);
    assert!(matches!(
        parse(DUCK, &e),
        Err(ConfigError::InvalidValue { .. })
    ));
}

#[test]
fn store_type_aliases() {
    for (path, kind, deprecated) in KNOWN_STORE_TYPES {
        let text = format!(
            "[stores.s]\ntype = \"{path}\"\n[stores.s.config]\n{} = \"loc\"\n",
            kind.location_key()
        );
        let cfg = parse(&text, &env(&[])).expect("cfg");
        let st = &cfg.stores[0];
        assert_eq!(st.kind, *kind);
        assert_eq!(st.deprecated_type, *deprecated);
        assert_eq!(st.type_path, *path);
        assert_eq!(st.location().expect("loc"), "loc");
        assert_eq!(cfg.warnings.len(), usize::from(*deprecated));
    }
    assert_eq!(
        StoreKind::from_type_path("metaxy.ext.polars.DeltaMetadataStore"),
        Some((StoreKind::Delta, true))
    );
    assert_eq!(
        StoreKind::from_type_path("metaxy.ext.duckdb.duckdbmetadatastore"),
        None
    );
}

#[test]
fn store_errors() {
    let e = env(&[]);
    // an unsupported store class does not break loading (Metaxy fails only when it is instantiated) ...
    let cfg = parse(
            "store = \"x\"\n[stores.x]\ntype = \"metaxy.ext.bigquery.BigQueryMetadataStore\"\n[stores.y]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n[stores.y.config]\ndatabase = \"a\"\n",
            &e,
        )
        .unwrap();
    assert_eq!(cfg.stores.len(), 1);
    assert_eq!(cfg.store_config(Some("y")).unwrap().name, "y");
    assert!(cfg.warnings.iter().any(|w| w.contains("BigQuery")));
    // ... but selecting it is an error
    let err = cfg.store_config(None).unwrap_err();
    match err {
        ConfigError::UnknownStoreType {
            store,
            type_path,
            supported,
        } => {
            assert_eq!(store, "x");
            assert!(type_path.contains("BigQuery"));
            assert_eq!(supported.len(), KNOWN_STORE_TYPES.len());
        }
        other => panic!("unexpected {other}"),
    }
    let err = parse(
        "[stores.x]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\ndatabase = \"a\"\n",
        &e,
    )
    .unwrap_err();
    assert!(matches!(err, ConfigError::UnknownKey { ref key } if key == "stores.x.database"));
    let err = parse(
            "[stores.x]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\nconfig = { hash_algorithm = \"blake3\" }\n",
            &e,
        )
        .unwrap_err();
    assert!(
        matches!(err, ConfigError::UnsupportedHashAlgorithm { ref algorithm, .. } if algorithm == "blake3")
    );
    let cfg = parse(
        "[stores.x]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n",
        &e,
    )
    .expect("cfg");
    let st = cfg.store_config(Some("x")).expect("x");
    assert!(
        matches!(st.location(), Err(ConfigError::MissingKey { ref key, .. }) if key == "database")
    );
    match cfg.store_config(None) {
        Err(ConfigError::UnknownStore { name, available }) => {
            assert_eq!(name, "dev");
            assert_eq!(available, vec!["x"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(cfg.store_config(Some("")).is_err());
    let err = parse("[stores.x]\ntype = 3\n", &e).unwrap_err();
    assert!(matches!(err, ConfigError::InvalidValue { .. }));
    let err = parse(
        "stores = { x = { type = \"metaxy.ext.duckdb.DuckDBMetadataStore\", config = 1 } }\n",
        &e,
    )
    .unwrap_err();
    assert!(matches!(err, ConfigError::InvalidValue { ref key, .. } if key == "stores.x.config"));
}

#[test]
fn hash_algorithms() {
    for h in HashAlgorithm::ALL {
        assert_eq!(h.as_str().parse::<HashAlgorithm>(), Ok(h));
    }
    assert_eq!("xxh3_64".parse(), Ok(HashAlgorithm::Xxh3_64));
    assert!("XXHASH32".parse::<HashAlgorithm>().is_err());
    let text = "[stores.l]\ntype = \"metaxy.ext.lancedb.LanceDBMetadataStore\"\n[stores.l.config]\nuri = \"u\"\nhash_algorithm = \"sha256\"\nfallback_stores = [\"a\", \"b\"]\n";
    let cfg = parse(text, &env(&[])).expect("cfg");
    assert_eq!(cfg.stores[0].hash_algorithm, HashAlgorithm::Sha256);
    assert_eq!(cfg.stores[0].fallback_stores, vec!["a", "b"]);
    assert_eq!(
        StoreKind::Delta.default_hash_algorithm(),
        HashAlgorithm::Xxhash32
    );
}

#[test]
fn top_level_validation() {
    let e = env(&[]);
    assert!(matches!(
        parse("hash_algorithm = \"md5\"\n", &e),
        Err(ConfigError::UnknownKey { ref key }) if key == "hash_algorithm"
    ));
    assert!(matches!(
        parse("hash_truncation_length = 7\n", &e),
        Err(ConfigError::InvalidValue { .. })
    ));
    assert_eq!(
        parse("hash_truncation_length = 64\n", &e)
            .expect("ok")
            .hash_truncation_length,
        64
    );
    for bad in ["a__b", "a/b", "a b", ""] {
        let text = format!("project = \"{bad}\"\n");
        assert!(
            matches!(parse(&text, &e), Err(ConfigError::InvalidValue { ref key, .. }) if key == "project"),
            "{bad}"
        );
    }
    assert_eq!(
        parse("project = \"My-proj_1\"\n", &e)
            .expect("ok")
            .project
            .as_deref(),
        Some("My-proj_1")
    );
    assert!(matches!(
        parse("store = 1\n", &e),
        Err(ConfigError::InvalidValue { .. })
    ));
    assert!(matches!(
        parse("entrypoints = \"a\"\n", &e),
        Err(ConfigError::InvalidValue { .. })
    ));
    assert!(matches!(parse("sync = \"true\"\n", &e), Ok(ref c) if c.sync));
    assert!(matches!(parse("locked = false\n", &e), Ok(ref c) if c.locked == Some(false)));
    assert!(matches!(
        parse("project = [\n", &e),
        Err(ConfigError::Toml { .. })
    ));
    assert!(matches!(
        parse("a = 1\na = 2\n", &e),
        Err(ConfigError::Toml { .. })
    ));
    assert!(matches!(
        parse("[[extra_features]]\nprojects = []\n", &e),
        Err(ConfigError::InvalidValue { .. })
    ));
    assert!(matches!(
        parse("[[extra_features]]\nall = true\nfoo = 1\n", &e),
        Err(ConfigError::UnknownKey { .. })
    ));
    let cfg = parse(
            "metaxy_lock_path = \"locks/m.lock\"\n[[extra_features]]\nprojects = [\"p\"]\n[ext.plug]\nx = 1\n",
            &e,
        )
        .expect("ok");
    assert_eq!(
        cfg.extra_features,
        vec![serde_json::json!({"projects": ["p"], "keys": null, "all": null})]
    );
    assert_eq!(
        Value::Object(cfg.ext.clone()),
        serde_json::json!({"plug": {"enable": false, "x": 1}})
    );
    assert_eq!(cfg.lock_file(), None);
}

#[test]
fn lock_file_resolution() {
    let d = tmp();
    write(
        &d.path().join("metaxy.toml"),
        "metaxy_lock_path = \"l/x.lock\"\n",
    );
    let cfg = MetaxyConfig::from_file(&d.path().join("metaxy.toml"), &env(&[])).expect("ok");
    let dir = fs::canonicalize(d.path()).expect("c");
    assert_eq!(cfg.lock_file(), Some(dir.join("l/x.lock")));
    write(&d.path().join("metaxy.toml"), "");
    let cfg = MetaxyConfig::from_file(&d.path().join("metaxy.toml"), &env(&[])).expect("ok");
    assert_eq!(cfg.lock_file(), Some(dir.join("metaxy.lock")));
}

#[test]
fn store_order_follows_document_order() {
    let text = r#"
store = "zeta"
[stores.zeta]
type = "metaxy.ext.duckdb.DuckDBMetadataStore"
config = { database = "z", zz = 1, aa = 2 }
[stores.alpha]
type = "metaxy.ext.duckdb.DuckDBMetadataStore"
[stores.alpha.config]
database = "a"
[stores.mid]
type = "metaxy.ext.duckdb.DuckDBMetadataStore"
"#;
    let cfg = parse(text, &env(&[])).expect("cfg");
    let names: Vec<_> = cfg.stores.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["zeta", "alpha", "mid"]);
    let keys: Vec<_> = cfg.stores[0].config.keys().map(String::as_str).collect();
    assert_eq!(keys, vec!["database", "zz", "aa"]);
    let printed = cfg.to_print_json();
    let pnames: Vec<_> = printed["stores"]
        .as_object()
        .expect("obj")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(pnames, vec!["zeta", "alpha", "mid"]);
}

#[test]
fn implicit_tables_keep_first_mention_order() {
    // `stores.b` is first mentioned by `[stores.b.config]`, before `[stores.a]` (tomli order).
    let text = "[stores.b.config]\ndatabase = \"x\"\n\
                    [stores.a]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n\
                    [stores.b]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n";
    let cfg = parse(text, &env(&[])).expect("cfg");
    let names: Vec<_> = cfg.stores.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["b", "a"]);
    assert_eq!(cfg.stores[0].location().expect("loc"), "x");
}

#[test]
fn ensure_ascii_like_python() {
    let cfg = parse("theme = \"é😀\"\n", &env(&[])).expect("cfg");
    assert!(cfg
        .to_print_json_string()
        .contains(r#""theme": "\u00e9\ud83d\ude00""#));
}

#[test]
fn toml_datetimes_and_numbers_convert() {
    let text = "[stores.s]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n[stores.s.config]\ndatabase = \"d\"\nwhen = 1979-05-27T07:32:00Z\nhex = 0x1F\nf = 1.5\nbig = 1_000\n";
    let cfg = parse(text, &env(&[])).expect("cfg");
    let c = &cfg.stores[0].config;
    assert_eq!(c["when"], "1979-05-27T07:32:00Z");
    assert_eq!(c["hex"], 31);
    assert_eq!(c["f"], 1.5);
    assert_eq!(c["big"], 1000);
}
