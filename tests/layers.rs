//! The host's crates are layers, and imports flow one way
//! (docs/architecture.md): a crate depends only on crates of lower layers,
//! and no product crate depends on the emulators. Cargo forbids cycles; this
//! test forbids a dependency that would point up the stack even where no
//! cycle forms yet, e.g. the engine taking the server's types.

use std::collections::BTreeMap;
use std::path::Path;

/// Each host crate with its layer; a crate may depend on lower layers only.
const LAYERS: &[(&str, &str, u32)] = &[
    ("host/model", "hrsync-model", 0),
    ("host/metrics", "hrsync-metrics", 0),
    ("host/runtime", "hrsync-runtime", 1),
    ("host/engine", "hrsync-engine", 2),
    ("host/store", "hrsync-store", 3),
    ("host/server", "hrsync-server", 4),
    ("host/cli", "hrsync", 5),
    // Test support and the lab: beside the product, never under it.
    ("host/emulators", "hrsync-emulators", 1),
    ("host/lab", "hrsync-lab", 6),
];

/// The `hrsync*` crates a manifest names in one dependency table.
fn hrsync_dependencies(manifest: &toml::Table, table: &str) -> Vec<String> {
    manifest
        .get(table)
        .and_then(toml::Value::as_table)
        .map(|deps| deps.keys().filter(|name| name.starts_with("hrsync")).cloned().collect())
        .unwrap_or_default()
}

#[test]
fn each_crate_depends_only_on_layers_below_it_and_the_product_not_on_emulators() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let layer: BTreeMap<&str, u32> = LAYERS.iter().map(|(_, name, layer)| (*name, *layer)).collect();
    let mut seen = 0;
    for (folder, name, own) in LAYERS {
        let text = std::fs::read_to_string(root.join(folder).join("Cargo.toml")).expect("a manifest");
        let manifest: toml::Table = text.parse().expect("the manifest parses");
        let package = manifest["package"]["name"].as_str().expect("a package name");
        assert_eq!(package, *name, "{folder}");
        for dependency in hrsync_dependencies(&manifest, "dependencies") {
            let Some(theirs) = layer.get(dependency.as_str()) else {
                panic!("{name} depends on {dependency}, which is not a host layer");
            };
            assert!(
                theirs < own,
                "{name} (layer {own}) depends on {dependency} (layer {theirs})"
            );
            assert!(
                dependency != "hrsync-emulators" || *name == "hrsync-lab",
                "{name}: the emulators are for tests, the demo and the benchmarks only"
            );
        }
        seen += 1;
    }
    // Every crate in host/ is listed above.
    let folders = std::fs::read_dir(root.join("host"))
        .expect("host/")
        .filter(|entry| entry.as_ref().is_ok_and(|e| e.path().join("Cargo.toml").exists()))
        .count();
    assert_eq!(seen, folders, "a crate in host/ is missing from LAYERS");
}
