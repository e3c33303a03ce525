//! Message bytes: hashes, byte-exact comparison, SMTP dot-stuffing both ways, and a
//! small plain message.

use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Byte-exact comparison whose failure says where the two differ, not a 50 MB dump.
pub fn assert_same_bytes(expected: &[u8], actual: &[u8], what: &str) {
    if expected == actual {
        return;
    }
    let at = expected.iter().zip(actual).take_while(|(a, b)| a == b).count();
    let window = |b: &[u8]| String::from_utf8_lossy(&b[at.saturating_sub(40)..(at + 40).min(b.len())]).into_owned();
    panic!(
        "{what}: bytes differ\n  expected {} bytes sha256 {}\n  actual   {} bytes sha256 {}\n  first difference at byte {at}\n  expected around it: {:?}\n  actual around it:   {:?}",
        expected.len(),
        sha256_hex(expected),
        actual.len(),
        sha256_hex(actual),
        window(expected),
        window(actual),
    );
}

/// RFC 5321 4.5.2 transparency, sender side: a line (CRLF-delimited) that begins with
/// '.' gets one more. Bare CR or LF do not start a line.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    let mut line_start = true;
    for (i, &b) in message.iter().enumerate() {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n' && i > 0 && message[i - 1] == b'\r';
    }
    out
}

/// RFC 5321 4.5.2, receiver side: what a correct server stores for DATA `wire` bytes
/// (terminator excluded): the first '.' of every CRLF-delimited line is removed.
pub fn dot_unstuff(wire: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(wire.len());
    let mut line_start = true;
    for (i, &b) in wire.iter().enumerate() {
        if !(line_start && b == b'.') {
            out.push(b);
        }
        line_start = b == b'\n' && i > 0 && wire[i - 1] == b'\r';
    }
    out
}

/// A small, plain RFC 5322 message with CRLF line ends.
pub fn simple_message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    let mut m = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Tue, 01 Apr 2025 10:00:00 +0000\r\n\
         Message-ID: <{}@test.pigeonhole>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
        sha256_hex(subject.as_bytes()).get(..16).unwrap()
    );
    for line in body.lines() {
        m.push_str(line);
        m.push_str("\r\n");
    }
    m.into_bytes()
}
