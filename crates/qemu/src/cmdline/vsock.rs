//! The agent channel: vhost-user vsock (hybrid, served by vhost-device-vsock) or kernel vsock
//! (the virtio-serial port is `serial.rs`'s).

use kata_hypervisor::{AgentChannel, VmSpec};

use super::escape_path;

pub(super) fn args(spec: &VmSpec) -> Vec<String> {
    match &spec.agent_channel {
        Some(AgentChannel::HybridVsock {
            vhost_user_socket, ..
        }) => vec![
            "-chardev".into(),
            format!(
                "socket,id=vsock-chr,path={}",
                escape_path(vhost_user_socket)
            ),
            "-device".into(),
            "vhost-user-vsock-pci,chardev=vsock-chr,id=vsock0".into(),
        ],
        Some(AgentChannel::Vsock { guest_cid }) => vec![
            "-device".into(),
            format!("vhost-vsock-pci,id=vsock0,guest-cid={guest_cid}"),
        ],
        Some(AgentChannel::Serial { .. }) | None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::{test_spec, values_of};

    #[test]
    fn hybrid_vsock_connects_to_the_daemon_socket() {
        let mut s = test_spec();
        s.agent_channel = Some(AgentChannel::HybridVsock {
            vhost_user_socket: "/run/p/vhu.sock".into(),
            uds_path: "/run/p/kata.hvsock".into(),
            guest_cid: 3,
        });
        let a = args(&s);
        assert_eq!(
            values_of(&a, "-chardev"),
            ["socket,id=vsock-chr,path=/run/p/vhu.sock"]
        );
        assert_eq!(
            values_of(&a, "-device"),
            ["vhost-user-vsock-pci,chardev=vsock-chr,id=vsock0"]
        );
    }

    #[test]
    fn kernel_vsock_sets_the_cid() {
        let mut s = test_spec();
        s.agent_channel = Some(AgentChannel::Vsock { guest_cid: 7 });
        assert_eq!(
            values_of(&args(&s), "-device"),
            ["vhost-vsock-pci,id=vsock0,guest-cid=7"]
        );
    }
}
