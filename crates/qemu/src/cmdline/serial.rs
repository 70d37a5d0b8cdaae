//! The agent's virtio-serial port (`AgentChannel::Serial`): a `virtio-serial-pci` controller, a
//! Unix socket chardev QEMU listens on without waiting for a client, and a `virtserialport`
//! named `agent.channel.0` (QEMU docs/system/devices/virtio-serial; Kata 1.x's channel name).

use kata_hypervisor::{AgentChannel, VmSpec};

use super::escape_path;

/// Name of the port in the guest (`/sys/class/virtio-ports/*/name`); the agent looks for it.
pub const AGENT_PORT_NAME: &str = "agent.channel.0";

pub(super) fn args(spec: &VmSpec) -> Vec<String> {
    let Some(AgentChannel::Serial { socket }) = &spec.agent_channel else {
        return Vec::new();
    };
    vec![
        "-device".into(),
        "virtio-serial-pci,id=serial0".into(),
        "-chardev".into(),
        format!(
            "socket,id=agent-chr,path={},server=on,wait=off",
            escape_path(socket)
        ),
        "-device".into(),
        format!(
            "virtserialport,bus=serial0.0,chardev=agent-chr,id=agent-port,name={AGENT_PORT_NAME}"
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::{test_spec, values_of};

    #[test]
    fn the_port_is_named_and_served_on_the_socket() {
        let mut s = test_spec();
        s.agent_channel = Some(AgentChannel::Serial {
            socket: "/run/p/agent,1.sock".into(),
        });
        let a = args(&s);
        assert_eq!(
            values_of(&a, "-chardev"),
            ["socket,id=agent-chr,path=/run/p/agent,,1.sock,server=on,wait=off"]
        );
        assert_eq!(
            values_of(&a, "-device"),
            [
                "virtio-serial-pci,id=serial0",
                "virtserialport,bus=serial0.0,chardev=agent-chr,id=agent-port,name=agent.channel.0"
            ]
        );
    }

    #[test]
    fn other_channels_add_no_serial_device() {
        let mut s = test_spec();
        assert!(args(&s).is_empty());
        s.agent_channel = Some(AgentChannel::Vsock { guest_cid: 3 });
        assert!(args(&s).is_empty());
    }
}
