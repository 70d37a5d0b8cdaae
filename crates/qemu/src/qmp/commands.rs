//! Typed QMP commands and replies. Each command names itself and its reply type; arguments are
//! the command struct serialized (fields in QMP's spelling).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A QMP command: its name, its arguments (the value itself) and its reply.
pub trait QmpCommand: Serialize {
    const NAME: &'static str;
    type Reply: DeserializeOwned;
}

/// The empty reply `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Empty {}

macro_rules! no_arg_command {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $reply:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, Serialize)]
        pub struct $ty;
        impl QmpCommand for $ty {
            const NAME: &'static str = $name;
            type Reply = $reply;
        }
    };
}

no_arg_command!(
    /// Leaves capabilities negotiation; required before any other command.
    QmpCapabilities,
    "qmp_capabilities",
    Empty
);
no_arg_command!(
    /// The run state of the guest.
    QueryStatus,
    "query-status",
    StatusInfo
);
no_arg_command!(
    /// Pauses all vCPUs.
    Stop,
    "stop",
    Empty
);
no_arg_command!(
    /// Resumes all vCPUs.
    Cont,
    "cont",
    Empty
);
no_arg_command!(
    /// Exits QEMU.
    Quit,
    "quit",
    Empty
);
no_arg_command!(
    /// The CPU slots that can be hot-plugged, and the ones in use.
    QueryHotpluggableCpus,
    "query-hotpluggable-cpus",
    Vec<HotpluggableCpu>
);

/// Reply of `query-status`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StatusInfo {
    pub running: bool,
    /// `running`, `paused`, `prelaunch`, `shutdown`, ...
    pub status: String,
}

/// One entry of `query-hotpluggable-cpus`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HotpluggableCpu {
    #[serde(rename = "type")]
    pub cpu_type: String,
    #[serde(rename = "vcpus-count")]
    pub vcpus_count: u32,
    pub props: CpuInstanceProperties,
    /// Set when the slot is in use.
    #[serde(rename = "qom-path")]
    pub qom_path: Option<String>,
}

/// Where a hot-pluggable CPU sits in the topology; passed back to `device_add`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuInstanceProperties {
    #[serde(rename = "node-id", skip_serializing_if = "Option::is_none")]
    pub node_id: Option<i64>,
    #[serde(rename = "socket-id", skip_serializing_if = "Option::is_none")]
    pub socket_id: Option<i64>,
    #[serde(rename = "die-id", skip_serializing_if = "Option::is_none")]
    pub die_id: Option<i64>,
    #[serde(rename = "core-id", skip_serializing_if = "Option::is_none")]
    pub core_id: Option<i64>,
    #[serde(rename = "thread-id", skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<i64>,
}

/// Adds a device; driver properties go in `props`.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceAdd {
    pub driver: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bus: Option<String>,
    #[serde(flatten)]
    pub props: Map<String, Value>,
}

impl QmpCommand for DeviceAdd {
    const NAME: &'static str = "device_add";
    type Reply = Empty;
}

/// Asks the guest to release a device; completion is the `DEVICE_DELETED` event.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceDel {
    pub id: String,
}

impl QmpCommand for DeviceDel {
    const NAME: &'static str = "device_del";
    type Reply = Empty;
}

/// Adds a network backend (`type` = `tap`, ...).
#[derive(Debug, Clone, Serialize)]
pub struct NetdevAdd {
    #[serde(rename = "type")]
    pub netdev_type: String,
    pub id: String,
    #[serde(flatten)]
    pub props: Map<String, Value>,
}

impl QmpCommand for NetdevAdd {
    const NAME: &'static str = "netdev_add";
    type Reply = Empty;
}

/// Removes a network backend.
#[derive(Debug, Clone, Serialize)]
pub struct NetdevDel {
    pub id: String,
}

impl QmpCommand for NetdevDel {
    const NAME: &'static str = "netdev_del";
    type Reply = Empty;
}

/// Adds a block node graph (`BlockdevOptions` as JSON).
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct BlockdevAdd(pub Value);

impl QmpCommand for BlockdevAdd {
    const NAME: &'static str = "blockdev-add";
    type Reply = Empty;
}

/// Removes a block node.
#[derive(Debug, Clone, Serialize)]
pub struct BlockdevDel {
    #[serde(rename = "node-name")]
    pub node_name: String,
}

impl QmpCommand for BlockdevDel {
    const NAME: &'static str = "blockdev-del";
    type Reply = Empty;
}

/// One migration capability and whether it is on.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationCapability {
    /// The capability's QMP name, e.g. `x-ignore-shared`.
    pub capability: String,
    pub state: bool,
}

/// Sets migration capabilities (before `migrate` on the source, before `migrate-incoming` on
/// the destination).
#[derive(Debug, Clone, Serialize)]
pub struct MigrateSetCapabilities {
    pub capabilities: Vec<MigrationCapability>,
}

impl QmpCommand for MigrateSetCapabilities {
    const NAME: &'static str = "migrate-set-capabilities";
    type Reply = Empty;
}

/// Starts an outgoing migration to `uri` (`fd:NAME`, `exec:CMD`, ...); progress is in
/// `query-migrate`.
#[derive(Debug, Clone, Serialize)]
pub struct Migrate {
    pub uri: String,
}

impl QmpCommand for Migrate {
    const NAME: &'static str = "migrate";
    type Reply = Empty;
}

/// Starts loading a migration stream from `uri` into a VM started with `-incoming defer`.
#[derive(Debug, Clone, Serialize)]
pub struct MigrateIncoming {
    pub uri: String,
}

impl QmpCommand for MigrateIncoming {
    const NAME: &'static str = "migrate-incoming";
    type Reply = Empty;
}

no_arg_command!(
    /// The state of the current (or last) migration, incoming or outgoing.
    QueryMigrate,
    "query-migrate",
    MigrationInfo
);

/// Reply of `query-migrate` (the fields used here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct MigrationInfo {
    /// `none`, `setup`, `active`, `completed`, `failed`, `cancelled`, ...; absent before any
    /// migration.
    pub status: Option<String>,
    /// Why a migration failed.
    #[serde(rename = "error-desc")]
    pub error_desc: Option<String>,
}

/// Serializes a command's arguments; `None` when it takes none.
pub fn arguments<C: QmpCommand>(cmd: &C) -> Result<Option<Value>, serde_json::Error> {
    let value = serde_json::to_value(cmd)?;
    Ok(match value {
        Value::Null => None,
        Value::Object(ref m) if m.is_empty() => None,
        v => Some(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn no_arg_commands_have_no_arguments() {
        assert_eq!(arguments(&QueryStatus).expect("args"), None);
        assert_eq!(arguments(&Quit).expect("args"), None);
    }

    #[test]
    fn device_add_flattens_properties() {
        let mut props = Map::new();
        props.insert("drive".into(), json!("blk0"));
        let cmd = DeviceAdd {
            driver: "virtio-blk-pci".into(),
            id: "blk0".into(),
            bus: Some("pci-bridge-0".into()),
            props,
        };
        assert_eq!(
            arguments(&cmd).expect("args"),
            Some(
                json!({"driver": "virtio-blk-pci", "id": "blk0", "bus": "pci-bridge-0", "drive": "blk0"})
            )
        );
    }

    #[test]
    fn netdev_add_spells_type() {
        let cmd = NetdevAdd {
            netdev_type: "tap".into(),
            id: "eth0".into(),
            props: Map::new(),
        };
        assert_eq!(
            arguments(&cmd).expect("args"),
            Some(json!({"type": "tap", "id": "eth0"}))
        );
    }

    #[test]
    fn migration_commands_use_qmp_spelling() {
        let caps = MigrateSetCapabilities {
            capabilities: vec![MigrationCapability {
                capability: "x-ignore-shared".into(),
                state: true,
            }],
        };
        assert_eq!(
            arguments(&caps).expect("args"),
            Some(json!({"capabilities": [{"capability": "x-ignore-shared", "state": true}]}))
        );
        let info: MigrationInfo =
            serde_json::from_value(json!({"status": "failed", "error-desc": "disk full"}))
                .expect("decode");
        assert_eq!(info.error_desc.as_deref(), Some("disk full"));
        let info: MigrationInfo = serde_json::from_value(json!({})).expect("decode empty");
        assert_eq!(info.status, None);
    }

    #[test]
    fn hotpluggable_cpus_reply_decodes() {
        let reply: Vec<HotpluggableCpu> = serde_json::from_value(json!([
            {"props": {"core-id": 0, "thread-id": 0, "socket-id": 1}, "vcpus-count": 1, "type": "qemu64-x86_64-cpu"},
            {"props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "vcpus-count": 1, "qom-path": "/machine/unattached/device[0]", "type": "qemu64-x86_64-cpu"}
        ]))
        .expect("decode");
        assert_eq!(reply.len(), 2);
        assert_eq!(reply[0].props.socket_id, Some(1));
        assert!(reply[0].qom_path.is_none());
        assert!(reply[1].qom_path.is_some());
    }
}
