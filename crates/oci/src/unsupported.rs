//! OCI fields a container can set that kata-rs does not carry into the guest. They are not
//! dropped silently: the shim logs each one it leaves out, naming the container and the field
//! (docs/compatibility.md says why for each).

use oci_spec::runtime::Spec;
use serde_json::Value;

/// JSON pointers of the fields left out, and why.
const LEFT_OUT: &[(&str, &str)] = &[
    (
        "/domainname",
        "Kata's agent protocol has no domain name; the guest's stays",
    ),
    (
        "/process/scheduler",
        "Kata's agent protocol has no scheduler policy",
    ),
    (
        "/process/ioPriority",
        "Kata's agent protocol has no I/O priority",
    ),
    (
        "/process/execCPUAffinity",
        "Kata's agent protocol has no exec CPU affinity",
    ),
    (
        "/linux/resources/cpu/idle",
        "Kata's agent protocol has no cpu.idle",
    ),
    (
        "/linux/resources/cpu/burst",
        "Kata's agent protocol has no cpu.max.burst",
    ),
    ("/linux/resources/rdma", "RDMA devices are the host's"),
    (
        "/linux/personality",
        "Kata's agent protocol has no execution domain",
    ),
    (
        "/linux/timeOffsets",
        "Kata's agent protocol has no time namespace offsets",
    ),
    (
        "/linux/intelRdt",
        "RDT is a host CPU feature the guest does not have",
    ),
    (
        "/linux/resources/unified",
        "Kata's agent protocol has no cgroup v2 unified map",
    ),
    (
        "/linux/resources/blockIO",
        "its device numbers are the host's, not the guest's",
    ),
    (
        "/linux/resources/network",
        "classids and priorities apply to host interfaces",
    ),
];

/// Each field of `spec` that is set (not null, not empty) but not carried into the guest, as
/// (`field.path`, reason).
pub fn left_out_fields(spec: &Spec) -> Vec<(String, &'static str)> {
    let Ok(v) = serde_json::to_value(spec) else {
        return Vec::new();
    };
    LEFT_OUT
        .iter()
        .filter(|(pointer, _)| v.pointer(pointer).is_some_and(is_set))
        .map(|(pointer, why)| (pointer.trim_start_matches('/').replace('/', "."), *why))
        .collect()
}

fn is_set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_fields_are_named_and_unset_ones_are_not() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion": "1.0.2", "domainname": "example.org",
                "linux": {"resources": {"unified": {"memory.high": "1G"}, "blockIO": {}}}}"#,
        )
        .expect("spec");
        let fields: Vec<String> = left_out_fields(&spec).into_iter().map(|f| f.0).collect();
        assert_eq!(fields, ["domainname", "linux.resources.unified"]);
        let plain: Spec = serde_json::from_str(r#"{"ociVersion": "1.0.2"}"#).expect("spec");
        assert!(left_out_fields(&plain).is_empty());
    }
}
