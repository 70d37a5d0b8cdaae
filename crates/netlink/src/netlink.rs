//! A small synchronous rtnetlink client: one request with an acknowledgement, or one dump. The
//! socket belongs to the network namespace it was opened in.

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::Socket;

use crate::error::{Error, Result};

pub struct Netlink {
    socket: Socket,
    seq: u32,
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Self> {
        let io = |e| Error::io("opening an rtnetlink socket", e);
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(io)?;
        socket.bind_auto().map_err(io)?;
        Ok(Netlink { socket, seq: 0 })
    }

    /// Sends `msg` with `flags` (plus REQUEST|ACK) and waits for the acknowledgement; `what`
    /// names the request in errors.
    pub fn request(&mut self, what: &str, msg: RouteNetlinkMessage, flags: u16) -> Result<()> {
        self.send(what, msg, NLM_F_REQUEST | NLM_F_ACK | flags)?;
        self.receive(what, |_| {}).map(|_| ())
    }

    /// Sends a dump request and collects every answer.
    pub fn dump(&mut self, msg: RouteNetlinkMessage) -> Result<Vec<RouteNetlinkMessage>> {
        self.send("dump", msg, NLM_F_REQUEST | NLM_F_DUMP)?;
        let mut out = Vec::new();
        self.receive("dump", |m| out.push(m))?;
        Ok(out)
    }

    fn send(&mut self, what: &str, msg: RouteNetlinkMessage, flags: u16) -> Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket
            .send(&buf, 0)
            .map_err(|e| Error::io(format!("rtnetlink {what}: send"), e))?;
        Ok(())
    }

    /// Reads until the acknowledgement (an error message with code 0), an error, or the end of a
    /// dump; inner messages go to `each`.
    fn receive(&mut self, what: &str, mut each: impl FnMut(RouteNetlinkMessage)) -> Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = self
                .socket
                .recv(&mut &mut buf[..], 0)
                .map_err(|e| Error::io(format!("rtnetlink {what}: receive"), e))?;
            let mut offset = 0;
            while offset < n {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[offset..n])
                    .map_err(|e| Error::Decode(e.to_string()))?;
                let len = msg.header.length as usize;
                if msg.header.sequence_number == self.seq {
                    match msg.payload {
                        NetlinkPayload::Done(_) => return Ok(()),
                        NetlinkPayload::Error(e) if e.code.is_none() => return Ok(()),
                        NetlinkPayload::Error(e) => {
                            return Err(Error::io(format!("rtnetlink {what}"), e.to_io()))
                        }
                        NetlinkPayload::InnerMessage(m) => each(m),
                        _ => {}
                    }
                }
                if len == 0 {
                    break;
                }
                offset += len;
            }
        }
    }
}
