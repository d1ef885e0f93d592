//! Reads which WIT package version and which plugin kind a component was
//! built against, from its import and export names, before anything is
//! compiled.

use semver::Version;
use wasmparser::{Parser, Payload};

use hrsync_model::PluginKind;

/// The WIT package this host implements.
pub const WIT_PACKAGE: &str = "hrsync:plugin";
/// The newest version of [`WIT_PACKAGE`] this host implements. Components
/// built against the same major version and an equal or older minor version
/// are accepted.
pub const WIT_VERSION: Version = Version::new(1, 2, 0);

/// What the component's outer import/export names say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    pub kind: PluginKind,
    pub wit_version: Version,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VersionError {
    #[error("not a WebAssembly file: {0}")]
    NotWasm(String),
    #[error(
        "this is a core WebAssembly module, not a component; build it for wasm32-wasip2 \
         (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    #[error(
        "the component exports none of {WIT_PACKAGE}/source-api, /target-api or /rule-api; \
         is it an hrsync plugin?"
    )]
    NotAPlugin,
    #[error("the component exports more than one plugin interface ({0}); a plugin has one kind")]
    SeveralKinds(String),
    #[error("`{name}` has no valid semver version: {message}")]
    BadVersion { name: String, message: String },
    #[error(
        "the plugin was built against {WIT_PACKAGE}@{found}, but this host supports \
         {WIT_PACKAGE}@{supported} (major {major}, minor up to {minor}); rebuild the plugin \
         with the WIT of this host or upgrade hrsync",
        supported = WIT_VERSION, major = WIT_VERSION.major, minor = WIT_VERSION.minor
    )]
    Unsupported { found: Version },
}

/// Inspects the top-level imports and exports of a component.
pub fn inspect(bytes: &[u8]) -> Result<ComponentInfo, VersionError> {
    if bytes.len() < 8 || &bytes[0..4] != b"\0asm" {
        return Err(VersionError::NotWasm("missing the \\0asm magic number".into()));
    }
    let mut depth = 0usize;
    let mut exports: Vec<(PluginKind, Version)> = Vec::new();
    let mut versions: Vec<Version> = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| VersionError::NotWasm(e.to_string()))?;
        match payload {
            Payload::Version { encoding, .. } => {
                depth += 1;
                if depth == 1 && encoding == wasmparser::Encoding::Module {
                    return Err(VersionError::CoreModule);
                }
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    let import = import.map_err(|e| VersionError::NotWasm(e.to_string()))?;
                    if let Some((_, version)) = split_name(import.name.name)? {
                        versions.push(version);
                    }
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    let export = export.map_err(|e| VersionError::NotWasm(e.to_string()))?;
                    if let Some((interface, version)) = split_name(export.name.name)? {
                        let kind = match interface {
                            "source-api" => PluginKind::Source,
                            "target-api" => PluginKind::Target,
                            "rule-api" => PluginKind::Rule,
                            _ => continue,
                        };
                        versions.push(version.clone());
                        exports.push((kind, version));
                    }
                }
            }
            _ => {}
        }
    }
    let (kind, wit_version) = match exports.as_slice() {
        [] => return Err(VersionError::NotAPlugin),
        [one] => one.clone(),
        many => {
            let names: Vec<String> = many.iter().map(|(k, _)| format!("{k:?}")).collect();
            return Err(VersionError::SeveralKinds(names.join(", ")));
        }
    };
    for version in versions {
        if !supported(&version) {
            return Err(VersionError::Unsupported { found: version });
        }
    }
    Ok(ComponentInfo { kind, wit_version })
}

/// Whether a component built against `version` runs on this host.
#[allow(clippy::absurd_extreme_comparisons)] // WIT_VERSION.minor grows with new minor versions
pub fn supported(version: &Version) -> bool {
    version.major == WIT_VERSION.major && version.minor <= WIT_VERSION.minor && version.pre.is_empty()
}

/// `hrsync:plugin/source-api@1.0.0` -> (`source-api`, 1.0.0); other packages -> None.
fn split_name(name: &str) -> Result<Option<(&str, Version)>, VersionError> {
    let Some(rest) = name.strip_prefix(WIT_PACKAGE).and_then(|r| r.strip_prefix('/')) else {
        return Ok(None);
    };
    let Some((interface, version)) = rest.split_once('@') else {
        return Err(VersionError::BadVersion {
            name: name.to_string(),
            message: "the name carries no @version".into(),
        });
    };
    let version = Version::parse(version).map_err(|e| VersionError::BadVersion {
        name: name.to_string(),
        message: e.to_string(),
    })?;
    Ok(Some((interface, version)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_same_major_and_older_minor_only() {
        assert!(supported(&Version::new(1, 0, 0)));
        assert!(supported(&Version::new(1, 0, 7)));
        assert!(supported(&Version::new(1, 1, 0)));
        assert!(supported(&Version::new(1, 2, 0)));
        assert!(!supported(&Version::new(1, 3, 0)));
        assert!(!supported(&Version::new(2, 0, 0)));
        assert!(!supported(&Version::new(0, 9, 0)));
        assert!(!supported(&Version::parse("1.0.0-rc.1").unwrap()));
    }

    #[test]
    fn rejects_non_wasm_and_core_modules() {
        assert!(matches!(inspect(b"hello world"), Err(VersionError::NotWasm(_))));
        let core_module = b"\0asm\x01\0\0\0";
        assert_eq!(inspect(core_module), Err(VersionError::CoreModule));
    }

    #[test]
    fn names_both_versions_when_rejecting() {
        let message = VersionError::Unsupported {
            found: Version::new(2, 1, 0),
        }
        .to_string();
        assert!(message.contains("hrsync:plugin@2.1.0"), "{message}");
        assert!(message.contains("hrsync:plugin@1.2.0"), "{message}");
    }

    #[test]
    fn splits_interface_names() {
        let (interface, version) = split_name("hrsync:plugin/rule-api@1.0.3").unwrap().unwrap();
        assert_eq!(interface, "rule-api");
        assert_eq!(version, Version::new(1, 0, 3));
        assert_eq!(split_name("wasi:cli/environment@0.2.6").unwrap(), None);
        assert!(split_name("hrsync:plugin/rule-api").is_err());
    }
}
