//! QMP commands for memory hotplug: QOM objects (the memory backend a `pc-dimm` maps).

use serde::Serialize;
use serde_json::{Map, Value};

use super::commands::{Empty, QmpCommand};

/// Creates a QOM object (`object-add`), e.g. a `memory-backend-memfd`; its properties are
/// flattened next to `qom-type` and `id`.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectAdd {
    #[serde(rename = "qom-type")]
    pub qom_type: String,
    pub id: String,
    #[serde(flatten)]
    pub props: Map<String, Value>,
}

impl QmpCommand for ObjectAdd {
    const NAME: &'static str = "object-add";
    type Reply = Empty;
}

/// Removes a QOM object no device uses any more.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectDel {
    pub id: String,
}

impl QmpCommand for ObjectDel {
    const NAME: &'static str = "object-del";
    type Reply = Empty;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qmp::commands::arguments;
    use serde_json::json;

    #[test]
    fn object_add_flattens_properties() {
        let mut props = Map::new();
        props.insert("size".into(), json!(1u64 << 30));
        props.insert("share".into(), json!(true));
        let cmd = ObjectAdd {
            qom_type: "memory-backend-memfd".into(),
            id: "mem0".into(),
            props,
        };
        assert_eq!(
            arguments(&cmd).expect("args"),
            Some(
                json!({"qom-type": "memory-backend-memfd", "id": "mem0", "size": 1u64 << 30, "share": true})
            )
        );
    }
}
