//! `qmp_reply`: QMP messages as read from QEMU's monitor socket.

use kata_qemu::qmp::parse_message;

/// The whole input, then each `\n`-separated line of it (the client splits the stream on
/// newlines), through `kata_qemu::qmp::parse_message`.
pub fn qmp_reply(data: &[u8]) {
    if let Err(e) = parse_message(data) {
        let _ = e.to_string();
    }
    for line in data.split(|&b| b == b'\n') {
        let _ = parse_message(line);
    }
}
