//! The raw SMTP client: exactly the bytes a test writes go on the wire.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::{IO_TIMEOUT, dot_stuff};

#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    /// Text of every line after the code and separator, joined with '\n'.
    pub text: String,
}

impl Reply {
    pub fn is(&self, code: u16) -> bool {
        self.code == code
    }
}

/// A hand-driven SMTP connection: exactly the bytes we write go on the wire, so the
/// tests can pipeline, chunk and misbehave at will.
pub struct Smtp {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    pub greeting: Reply,
}

impl Smtp {
    pub fn connect(addr: SocketAddr) -> Smtp {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect to smtp");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        let mut s = Smtp { stream, reader, greeting: Reply { code: 0, text: String::new() } };
        s.greeting = s.reply();
        assert!(s.greeting.is(220), "greeting: {:?}", s.greeting);
        s
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to smtp");
    }

    /// Reads one (possibly multi-line) reply.
    pub fn reply(&mut self) -> Reply {
        let mut text = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = self.reader.read_until(b'\n', &mut line).expect("read smtp reply");
            assert!(n > 0, "server closed the connection; reply so far: {text:?}");
            let line = String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string();
            assert!(
                line.len() >= 3 && line.as_bytes()[..3].iter().all(u8::is_ascii_digit),
                "malformed reply line {line:?}"
            );
            let code: u16 = line[..3].parse().unwrap();
            let last = line.as_bytes().get(3) != Some(&b'-');
            text.push(line.get(4..).unwrap_or("").to_string());
            if last {
                return Reply { code, text: text.join("\n") };
            }
        }
    }

    /// Sends one command line and reads its reply.
    pub fn cmd(&mut self, line: &str) -> Reply {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Sends `line`, requires reply `code`.
    pub fn expect(&mut self, line: &str, code: u16) -> Reply {
        let r = self.cmd(line);
        assert!(r.is(code), "{line:?} → expected {code}, got {r:?}");
        r
    }

    /// EHLO; returns the advertised extension keywords (upper-cased lines).
    pub fn ehlo(&mut self, name: &str) -> Vec<String> {
        let r = self.expect(&format!("EHLO {name}"), 250);
        r.text.lines().skip(1).map(|l| l.to_ascii_uppercase()).collect()
    }

    /// One complete transaction, one command at a time; returns the reply to the
    /// final "." (the caller decides what it should be).
    pub fn deliver(&mut self, from: &str, to: &[&str], message: &[u8]) -> Reply {
        self.expect(&format!("MAIL FROM:<{from}>"), 250);
        for rcpt in to {
            self.expect(&format!("RCPT TO:<{rcpt}>"), 250);
        }
        self.expect("DATA", 354);
        let mut wire = dot_stuff(message);
        wire.extend_from_slice(b".\r\n");
        self.send(&wire);
        self.reply()
    }

    /// How long `reply` waits for the server before failing (default [`IO_TIMEOUT`]).
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
    }

    /// True when the server has closed the connection (nothing left to read). A reset
    /// counts as closed too: a server that hangs up while the client's last bytes are
    /// still unread makes the kernel answer them with RST instead of a plain FIN.
    pub fn at_eof(&mut self) -> bool {
        self.stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(0) => true,
            Err(e) => rest.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset,
            Ok(_) => false,
        }
    }

    pub fn quit(mut self) {
        self.expect("QUIT", 221);
    }
}

/// Delivers one message over a fresh connection, the plain way; returns its ID.
pub fn send_one(addr: SocketAddr, from: &str, to: &str, message: &[u8]) -> String {
    let mut smtp = Smtp::connect(addr);
    smtp.ehlo("client.example.test");
    let id = queued_id(&smtp.deliver(from, &[to], message));
    smtp.quit();
    id
}

/// The message ID from "250 2.0.0 Ok: queued as <ID>": the reply's last word.
pub fn queued_id(r: &Reply) -> String {
    assert!(r.is(250), "expected 250 after DATA, got {r:?}");
    let word = r.text.split_whitespace().last().unwrap_or_default();
    let id = word.trim_matches(|c| c == '<' || c == '>');
    assert!(!id.is_empty(), "no message ID in {r:?}");
    id.to_string()
}
