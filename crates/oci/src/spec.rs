//! Reading a bundle's `config.json`.

use std::path::Path;

use oci_spec::runtime::Spec;

use crate::error::{Error, Result};

/// Reads and parses `<bundle>/config.json`; errors name the file.
pub fn load_spec(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|source| Error::ReadSpec {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| Error::ParseSpec { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_a_bundle() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"ociVersion":"1.0.2","hostname":"pod","root":{"path":"rootfs"}}"#,
        )
        .expect("write");
        let spec = load_spec(dir.path()).expect("load");
        assert_eq!(spec.hostname().as_deref(), Some("pod"));
    }

    #[test]
    fn missing_file_names_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = load_spec(dir.path()).expect_err("missing");
        assert!(matches!(err, Error::ReadSpec { .. }));
        assert!(err.to_string().contains("config.json"), "{err}");
    }

    #[test]
    fn broken_json_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("config.json"), "{ not json").expect("write");
        let err = load_spec(dir.path()).expect_err("broken");
        assert!(matches!(err, Error::ParseSpec { .. }));
        assert!(err.to_string().contains("config.json"), "{err}");
    }
}
