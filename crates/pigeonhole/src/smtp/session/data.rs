//! The DATA body receiver: a message ends at CRLF.CRLF and at nothing else, and a
//! dot starting a line (after CRLF) is dot-stuffing, taken out.
//!
//! Ours rather than smtp-proto's, whose receiver also ends a message at
//! CRLF `.` CR… CR LF (`\r\n.\r\r\n`): a relay in front of us that sees no end
//! there would pass the rest on as body, and we would take it as commands (SMTP
//! smuggling). Found by the `smtp_session` fuzz target.

/// How much of the terminator the input has shown so far.
pub(super) struct DataReceiver {
    /// 0: mid-line; 1: after a CR; 2: at the start of a line (after CRLF);
    /// 3: after a line's first dot (dropped); 4: after that dot and a CR (held
    /// back until the next byte says whether it ends the message).
    matched: u8,
}

impl DataReceiver {
    /// A receiver for the bytes after the DATA command's CRLF, so that the
    /// message may end at once (an empty message).
    pub(super) fn new() -> DataReceiver {
        DataReceiver { matched: 2 }
    }

    /// Append the message bytes of `input` to `body`, up to the terminator; the
    /// number of bytes of `input` used, and whether the message ended.
    pub(super) fn ingest(&mut self, input: &[u8], body: &mut Vec<u8>) -> (usize, bool) {
        let mut at = 0;
        while at < input.len() {
            if self.matched < 2 {
                // Mid-line: everything up to the next LF is message.
                let rest = &input[at..];
                let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
                    body.extend_from_slice(rest);
                    self.matched = u8::from(rest.ends_with(b"\r"));
                    return (input.len(), false);
                };
                let after_cr = if lf == 0 { self.matched == 1 } else { rest[lf - 1] == b'\r' };
                body.extend_from_slice(&rest[..=lf]);
                self.matched = if after_cr { 2 } else { 0 };
                at += lf + 1;
                continue;
            }
            let byte = input[at];
            at += 1;
            match (self.matched, byte) {
                (2, b'.') => self.matched = 3,
                (3, b'\r') => self.matched = 4,
                (4, b'\n') => return (at, true),
                (4, _) => {
                    // The held CR was the line's own.
                    body.push(b'\r');
                    self.matched = 1;
                    self.take(byte, body);
                }
                _ => self.take(byte, body),
            }
        }
        (input.len(), false)
    }

    /// One byte of the message.
    fn take(&mut self, byte: u8, body: &mut Vec<u8>) {
        body.push(byte);
        self.matched = match (self.matched, byte) {
            (_, b'\r') => 1,
            (1, b'\n') => 2,
            _ => 0,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::DataReceiver;

    /// The body and the bytes left over, fed in pieces of `step` bytes.
    fn receive(input: &[u8], step: usize) -> Option<(Vec<u8>, Vec<u8>)> {
        let mut receiver = DataReceiver::new();
        let mut body = Vec::new();
        let mut at = 0;
        for chunk in input.chunks(step) {
            let (taken, done) = receiver.ingest(chunk, &mut body);
            at += taken;
            if done {
                return Some((body, input[at..].to_vec()));
            }
            assert_eq!(taken, chunk.len());
        }
        None
    }

    #[test]
    fn ends_at_crlf_dot_crlf_only() {
        for step in [1, 2, 3, 100] {
            let ended = |input: &[u8]| receive(input, step);
            assert_eq!(ended(b".\r\nQUIT\r\n"), Some((vec![], b"QUIT\r\n".to_vec())));
            assert_eq!(ended(b"a\r\n.\r\n"), Some((b"a\r\n".to_vec(), vec![])));
            // Not an end: bare LF or CR around the dot, or more than CR before LF.
            for input in [&b"a\n.\nb\r\n"[..], b"a\r\n.\nb\r\n", b"a\n.\r\nb", b"a\r.\r\n", b"a\r\n.\r\r\nb"] {
                assert_eq!(ended(input), None, "{input:?}");
            }
            let (body, rest) = ended(b"a\r\n.\r\r\nMAIL FROM:<x@y>\r\n.\r\nNOOP").expect("ends");
            assert_eq!((&body[..], &rest[..]), (&b"a\r\n\r\r\nMAIL FROM:<x@y>\r\n"[..], &b"NOOP"[..]));
        }
    }

    #[test]
    fn undoes_dot_stuffing() {
        for step in [1, 2, 100] {
            let (body, _) = receive(b"..a\r\n.\r\r\n...\r\nb.\r\n.x\n.y\r\n.\r\n", step).expect("ends");
            // A dot after a bare LF is not stuffing.
            assert_eq!(body, b".a\r\n\r\r\n..\r\nb.\r\nx\n.y\r\n");
        }
    }
}
