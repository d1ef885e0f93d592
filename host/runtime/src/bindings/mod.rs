//! Host-side bindings of the plugin contract, one module per WIT major
//! version (as Zed's extension host keeps `since_vX` modules). Each module
//! owns its generated types and converts them to the host's own types
//! (`hrsync_model`) at the edge; nothing outside `runtime` sees a generated
//! type. Today there is one major version.

pub mod v1;
