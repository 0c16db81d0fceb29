use metaxy_tui::engine::config::*;
use metaxy_tui::engine::graph::FeatureGraph;
use metaxy_tui::engine::store::{DuckDbStore, MetadataStore};
use metaxy_tui::engine::status::*;
use metaxy_tui::engine::resolve::ResolveOptions;
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let mut config = serde_json::Map::new();
    config.insert("database".into(), serde_json::json!(format!("{dir}/store/metadata.duckdb")));
    let cfg = StoreConfig { name: "dev".into(), type_path: "x".into(), kind: StoreKind::DuckDb, config, hash_algorithm: HashAlgorithm::Xxhash32, fallback_stores: vec![] };
    let store = DuckDbStore::open(&cfg, std::path::Path::new("/")).unwrap();
    let rows = store.system_rows().unwrap();
    let g = FeatureGraph::from_rows(&rows, None, None, 8, "dev").unwrap();
    println!("pv {} computed {} mismatches {:?}", g.project_version, g.computed_project_version, g.mismatches());
    let st: Vec<_> = g.features.iter().map(|f| feature_status(&store, &g, &f.spec.key, &ResolveOptions::default())).collect();
    println!("{}", serde_json::to_string_pretty(&status_document(&st, None)).unwrap());
}
