//! The debug console's stream (vsock port 1026 by default, Kata's `agent.debug_console_vport`).
//!
//! As in Kata, a connection carries the raw bytes of a shell's terminal both ways. kata-rs adds one
//! in-band message from the host: the terminal's size, as the private OSC sequence
//! `ESC ] kata-winsize ; <rows> ; <cols> BEL`, which the agent removes from the input and applies
//! to the shell's pty (`TIOCSWINSZ`). A client that never sends it (`socat`, Kata's own
//! `kata-runtime exec`) gets a plain shell.

/// What opens a window-size message.
pub const WINSIZE_PREFIX: &[u8] = b"\x1b]kata-winsize;";
/// What closes it.
pub const WINSIZE_END: u8 = 0x07;
/// Longest well-formed message: the prefix, two `u16`s, a `;` and the end.
pub const WINSIZE_MAX_LEN: usize = WINSIZE_PREFIX.len() + 5 + 1 + 5 + 1;

/// The message telling the agent the terminal has `rows` rows and `cols` columns.
pub fn winsize_message(rows: u16, cols: u16) -> Vec<u8> {
    let mut m = WINSIZE_PREFIX.to_vec();
    m.extend_from_slice(format!("{rows};{cols}").as_bytes());
    m.push(WINSIZE_END);
    m
}

/// Splits the host's input into the bytes for the shell and the window sizes it carries.
///
/// A message cut between two reads is held back until the rest arrives (unless the cut leaves a
/// lone ESC, taken as the Escape key); anything that starts like a message but is not one
/// well-formed goes to the shell unchanged.
#[derive(Debug, Default)]
pub struct WinsizeFilter {
    held: Vec<u8>,
}

/// One chunk of input, filtered.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Filtered {
    /// Bytes for the shell, in order.
    pub data: Vec<u8>,
    /// Window sizes `(rows, cols)` found, in order.
    pub sizes: Vec<(u16, u16)>,
}

impl WinsizeFilter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Filters the next chunk of input.
    pub fn feed(&mut self, input: &[u8]) -> Filtered {
        let mut buf = std::mem::take(&mut self.held);
        buf.extend_from_slice(input);
        let mut out = Filtered::default();
        let mut i = 0;
        while i < buf.len() {
            if buf[i] != WINSIZE_PREFIX[0] {
                out.data.push(buf[i]);
                i += 1;
                continue;
            }
            let rest = &buf[i..];
            match parse(rest) {
                Parse::Message(rows, cols, len) => {
                    out.sizes.push((rows, cols));
                    i += len;
                }
                // A lone ESC at the end is the Escape key: the shell gets it now, not with the
                // next key (the host sends each message in one write, so it is rarely cut there).
                Parse::Incomplete if rest.len() > 1 => {
                    self.held = rest.to_vec();
                    break;
                }
                Parse::Incomplete => {
                    out.data.push(buf[i]);
                    i += 1;
                }
                Parse::Not => {
                    out.data.push(buf[i]);
                    i += 1;
                }
            }
        }
        out
    }
}

enum Parse {
    Message(u16, u16, usize),
    Incomplete,
    Not,
}

fn parse(rest: &[u8]) -> Parse {
    let n = rest.len().min(WINSIZE_PREFIX.len());
    if rest[..n] != WINSIZE_PREFIX[..n] {
        return Parse::Not;
    }
    if rest.len() <= WINSIZE_PREFIX.len() {
        return Parse::Incomplete;
    }
    let body = &rest[WINSIZE_PREFIX.len()..];
    let Some(end) = body.iter().position(|b| *b == WINSIZE_END) else {
        return if rest.len() < WINSIZE_MAX_LEN {
            Parse::Incomplete
        } else {
            Parse::Not
        };
    };
    let text = std::str::from_utf8(&body[..end]).unwrap_or("");
    let size = text
        .split_once(';')
        .and_then(|(r, c)| Some((r.parse::<u16>().ok()?, c.parse::<u16>().ok()?)));
    match size {
        Some((rows, cols)) => Parse::Message(rows, cols, WINSIZE_PREFIX.len() + end + 1),
        None => Parse::Not,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_taken_out_of_the_input() {
        let mut f = WinsizeFilter::new();
        let mut input = b"ls\n".to_vec();
        input.extend(winsize_message(33, 101));
        input.extend(b"pwd\n");
        let out = f.feed(&input);
        assert_eq!(out.data, b"ls\npwd\n");
        assert_eq!(out.sizes, vec![(33, 101)]);
    }

    #[test]
    fn a_message_cut_anywhere_is_put_back_together() {
        let msg = winsize_message(24, 80);
        for cut in 2..msg.len() {
            let mut f = WinsizeFilter::new();
            let mut first = b"a".to_vec();
            first.extend(&msg[..cut]);
            let mut second = msg[cut..].to_vec();
            second.extend(b"b");
            let one = f.feed(&first);
            let two = f.feed(&second);
            assert_eq!([one.data, two.data].concat(), b"ab", "cut at {cut}");
            assert_eq!(
                [one.sizes, two.sizes].concat(),
                vec![(24, 80)],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn other_escapes_and_malformed_messages_reach_the_shell() {
        let mut f = WinsizeFilter::new();
        let arrow = b"\x1b[A";
        assert_eq!(f.feed(arrow).data, arrow);
        let bad = b"\x1b]kata-winsize;x;80\x07";
        let out = f.feed(bad);
        assert_eq!(out.data, bad);
        assert!(out.sizes.is_empty());
        let endless = [WINSIZE_PREFIX, b"1111111111111111111"].concat();
        assert_eq!(f.feed(&endless).data, endless);
        assert_eq!(
            f.feed(b"\x1b").data,
            b"\x1b",
            "the Escape key waits for nothing"
        );
    }
}
