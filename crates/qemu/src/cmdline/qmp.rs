//! The QMP control socket QEMU serves (server, no wait).

use std::path::Path;

use super::escape_path;

pub(super) fn args(socket: &Path) -> Vec<String> {
    vec![
        "-chardev".into(),
        format!(
            "socket,id=qmp,path={},server=on,wait=off",
            escape_path(socket)
        ),
        "-mon".into(),
        "chardev=qmp,mode=control".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::values_of;

    #[test]
    fn qmp_socket_is_a_control_monitor() {
        let a = args(Path::new("/run/p/qmp.sock"));
        assert_eq!(
            values_of(&a, "-chardev"),
            ["socket,id=qmp,path=/run/p/qmp.sock,server=on,wait=off"]
        );
        assert_eq!(values_of(&a, "-mon"), ["chardev=qmp,mode=control"]);
    }
}
