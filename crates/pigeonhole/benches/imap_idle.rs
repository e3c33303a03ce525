//! IDLE latency: from a message's SMTP `250` to the `* N EXISTS` an IMAP client
//! in IDLE receives for it, over loopback against an engine in this process.
//!
//! One IMAP client selects INBOX and IDLEs; one SMTP client sends IDLE_BENCH_MESSAGES
//! (default 300) messages one after another on one connection. For each, two
//! times: from the 250 to the EXISTS (what a user waits for once the app's send
//! returned), and from the end of DATA (the final `.`) to the EXISTS (the whole
//! path: receive, store, commit, event, IMAP). p50, p99 and the maximum of both;
//! the run fails if the 250 → EXISTS p99 reaches 100 ms.
//!
//! Run: `cargo bench -p pigeonhole --bench imap_idle`

use std::time::{Duration, Instant};

use pigeonhole::config::ImapConfig;
use pigeonhole::{Config, Engine};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const BUDGET: Duration = Duration::from_millis(100);

/// A line-reading connection.
struct Line {
    reader: BufReader<TcpStream>,
}

impl Line {
    async fn connect(addr: std::net::SocketAddr) -> Line {
        let stream = TcpStream::connect(addr).await.expect("connect");
        // The body and the final "." are two writes: without this, Nagle holds
        // the second until the first is acknowledged (40 ms of delayed ACK).
        stream.set_nodelay(true).expect("TCP_NODELAY");
        Line { reader: BufReader::new(stream) }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).await.expect("write");
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).await.expect("read");
        assert!(!line.is_empty(), "the server closed the connection");
        line
    }

    /// Read lines until one starts with `prefix`.
    async fn until(&mut self, prefix: &str) -> String {
        loop {
            let line = self.line().await;
            if line.starts_with(prefix) {
                return line;
            }
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(what: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let (p50, p99, max) = (percentile(&samples, 0.5), percentile(&samples, 0.99), *samples.last().unwrap());
    println!("{what}: p50 {p50:.2?}, p99 {p99:.2?}, max {max:.2?} ({} messages)", samples.len());
    p99
}

#[tokio::main]
async fn main() {
    let messages: usize = std::env::var("IDLE_BENCH_MESSAGES").ok().and_then(|n| n.parse().ok()).unwrap_or(300);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut config = Config::new(dir.path().to_path_buf());
    config.smtp_addr = "127.0.0.1:0".parse().unwrap();
    config.http_addr = "127.0.0.1:0".parse().unwrap();
    config.imap = Some(ImapConfig::new("127.0.0.1:0".parse().unwrap()));
    let engine = Engine::start(config).await.expect("the engine starts");

    let mut imap = Line::connect(engine.imap_addr().expect("IMAP is on")).await;
    imap.line().await;
    imap.send(b"a LOGIN bench bench\r\n").await;
    imap.until("a OK").await;
    imap.send(b"b SELECT INBOX\r\n").await;
    imap.until("b OK").await;
    imap.send(b"c IDLE\r\n").await;
    imap.until("+ ").await;

    let mut smtp = Line::connect(engine.smtp_addr()).await;
    smtp.until("220 ").await;
    smtp.send(b"EHLO bench.example\r\n").await;
    smtp.until("250 ").await;
    let (mut after_250, mut after_data) = (Vec::new(), Vec::new());
    for n in 1..=messages {
        smtp.send(b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n").await;
        smtp.until("354 ").await;
        let body = format!("Subject: message {n}\r\nFrom: a@example.test\r\n\r\nbody {n}\r\n");
        smtp.send(body.as_bytes()).await;
        let data_sent = Instant::now();
        smtp.send(b".\r\n").await;
        let reply = smtp.until("250 ").await;
        let accepted = Instant::now();
        let exists = imap.until("* ").await;
        let announced = Instant::now();
        assert_eq!(exists.trim_end(), format!("* {n} EXISTS"), "after {reply}");
        after_250.push(announced.saturating_duration_since(accepted));
        after_data.push(announced - data_sent);
    }
    let p99 = report("SMTP 250 -> IDLE EXISTS", after_250);
    report("end of DATA -> IDLE EXISTS", after_data);
    imap.send(b"DONE\r\n").await;
    imap.until("c OK").await;
    engine.shutdown().await;
    assert!(p99 < BUDGET, "the p99 latency {p99:?} reached the budget of {BUDGET:?}");
}
