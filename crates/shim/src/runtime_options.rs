//! containerd's runtime options for a task (`CreateTaskRequest.options`).
//!
//! `ctr run --runtime-config-path F` and the CRI plugin's runtime handler `options.ConfigPath`
//! send a protobuf `Any` holding containerd's `runtimeoptions.v1.Options`
//! (`string type_url = 1; string config_path = 2;`). A non-empty `config_path` names the
//! configuration file the sandbox is booted from; it wins over `KATA_CONF_FILE` and the default
//! paths (see `kata_config::Config::load`). An `Any` of another type is ignored with a warning.

use std::path::PathBuf;

use containerd_shim_protos::protobuf::rt::WireType;
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::CodedInputStream;

/// Full names of the message, as containerd (and the older cri-containerd) register it.
const OPTIONS_TYPES: &[&str] = &["runtimeoptions.v1.Options", "cri.runtimeoptions.v1.Options"];

/// The decoded `runtimeoptions.v1.Options` message.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RuntimeOptions {
    /// The type of the content of the file (unused by Kata).
    pub type_url: String,
    /// The configuration file; empty when not given.
    pub config_path: String,
}

/// The options `Any` could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("runtime options of type {type_url:?} are not a valid runtimeoptions.v1.Options message")]
pub struct OptionsError {
    type_url: String,
    #[source]
    source: containerd_shim_protos::protobuf::Error,
}

/// True when `type_url` (`runtimeoptions.v1.Options`, or with a `host/` prefix such as
/// `type.googleapis.com/`) names the runtime options message.
fn is_runtime_options(type_url: &str) -> bool {
    let name = type_url.rsplit('/').next().unwrap_or(type_url);
    OPTIONS_TYPES.contains(&name)
}

/// Decode the two string fields of `runtimeoptions.v1.Options`, skipping unknown fields.
pub fn decode(bytes: &[u8]) -> Result<RuntimeOptions, containerd_shim_protos::protobuf::Error> {
    let mut input = CodedInputStream::from_bytes(bytes);
    let mut out = RuntimeOptions::default();
    while let Some(tag) = input.read_raw_tag_or_eof()? {
        match (tag >> 3, tag & 7) {
            (1, 2) => out.type_url = input.read_string()?,
            (2, 2) => out.config_path = input.read_string()?,
            (_, wire) => match WireType::new(wire) {
                Some(wire) => input.skip_field(wire)?,
                None => {
                    return Err(containerd_shim_protos::protobuf::Error::from(
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("unknown wire type {wire}"),
                        ),
                    ))
                }
            },
        }
    }
    Ok(out)
}

/// The explicit configuration file carried by the task's options: `None` when there are no
/// options, the options are of another type (warned about) or carry an empty `config_path`.
pub fn config_path(options: Option<&Any>) -> Result<Option<PathBuf>, OptionsError> {
    let Some(any) = options.filter(|a| !a.type_url.is_empty() || !a.value.is_empty()) else {
        return Ok(None);
    };
    tracing::debug!(type_url = %any.type_url, "task runtime options");
    if !is_runtime_options(&any.type_url) {
        tracing::warn!(
            type_url = %any.type_url,
            "ignoring task runtime options of an unknown type"
        );
        return Ok(None);
    }
    let options = decode(&any.value).map_err(|source| OptionsError {
        type_url: any.type_url.clone(),
        source,
    })?;
    if options.config_path.is_empty() {
        return Ok(None);
    }
    tracing::info!(
        type_url = %any.type_url,
        config = %options.config_path,
        "configuration file from the ConfigPath runtime option"
    );
    Ok(Some(PathBuf::from(options.config_path)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use containerd_shim_protos::protobuf::CodedOutputStream;

    fn encode(fields: &[(u32, &str)]) -> Vec<u8> {
        let mut buf = Vec::new();
        {
            let mut out = CodedOutputStream::vec(&mut buf);
            for (n, v) in fields {
                out.write_string(*n, v).expect("write");
            }
            out.flush().expect("flush");
        }
        buf
    }

    fn any(type_url: &str, value: Vec<u8>) -> Any {
        let mut a = Any::new();
        a.type_url = type_url.to_string();
        a.value = value;
        a
    }

    #[test]
    fn decodes_both_fields_and_skips_unknown_ones() {
        let mut bytes = encode(&[(1, "io.containerd.kata.v1.Options"), (7, "x")]);
        bytes.extend(encode(&[(2, "/etc/kata/c.toml")]));
        // An unknown varint field too.
        bytes.extend([0x18, 0x2a]);
        let o = decode(&bytes).expect("decode");
        assert_eq!(o.type_url, "io.containerd.kata.v1.Options");
        assert_eq!(o.config_path, "/etc/kata/c.toml");
    }

    #[test]
    fn config_path_comes_from_runtime_options() {
        for url in [
            "runtimeoptions.v1.Options",
            "type.googleapis.com/runtimeoptions.v1.Options",
            "cri.runtimeoptions.v1.Options",
        ] {
            let a = any(url, encode(&[(2, "/tmp/x/configuration.toml")]));
            assert_eq!(
                config_path(Some(&a)).expect(url),
                Some(PathBuf::from("/tmp/x/configuration.toml")),
                "{url}"
            );
        }
    }

    #[test]
    fn no_options_empty_path_or_other_types_give_none() {
        assert_eq!(config_path(None).expect("none"), None);
        assert_eq!(config_path(Some(&Any::new())).expect("empty any"), None);
        let empty = any("runtimeoptions.v1.Options", encode(&[(1, "t")]));
        assert_eq!(config_path(Some(&empty)).expect("empty path"), None);
        let runc = any(
            "containerd.runc.v1.Options",
            encode(&[(2, "/not/a/config/path")]),
        );
        assert_eq!(config_path(Some(&runc)).expect("other type"), None);
    }

    #[test]
    fn malformed_runtime_options_are_an_error() {
        // Field 2, length 10, but only 3 bytes follow.
        let a = any(
            "runtimeoptions.v1.Options",
            vec![0x12, 0x0a, b'/', b'x', b'y'],
        );
        let err = config_path(Some(&a)).expect_err("truncated");
        assert!(
            err.to_string().contains("runtimeoptions.v1.Options"),
            "{err}"
        );
    }
}
