//! Free-text search at 100,000 messages: the latency of a search as the web UI
//! runs it (first page of 50 plus the count), p50 and p99, for a rare word, a
//! common word, a substring from inside a word, and a two-character term; and
//! what the index costs: seed rate (store and index) and database bytes per
//! message.
//!
//! The mailbox is shaped like the UI bench's (ui/tests/bench/list-bench.mjs):
//! SEARCH_BENCH_MESSAGES (default 100,000) messages with 2 KB bodies, plus 200
//! "needle" HTML messages that carry `zebracorn` and one rare word each
//! (`quokka0042x`). Bodies are varied words and numbers rather than smtp-source's
//! repeated filler, which would flatter an index.
//!
//! With SEARCH_BENCH_DIR set, the mailbox is kept in that folder, and a mailbox
//! already there is opened instead of seeded: how long opening takes (a schema
//! upgrade included) and then indexing what the upgrade queued.
//!
//! Run: `cargo bench -p pigeonhole --bench search`

use std::time::{Duration, Instant};

use pigeonhole::config::StoreConfig;
use pigeonhole::model::event;
use pigeonhole::store::Store;

mod common;
use common::submit;

const NEEDLES: usize = 200;
const SUBMITTERS: usize = 64;
const REPS: usize = 200;

const WORDS: &[&str] = &[
    "order",
    "shipped",
    "invoice",
    "account",
    "password",
    "reset",
    "welcome",
    "newsletter",
    "delivery",
    "tracking",
    "payment",
    "receipt",
    "subscription",
    "confirm",
    "address",
    "update",
    "security",
    "alert",
    "monday",
    "friday",
    "customer",
    "support",
    "ticket",
    "refund",
    "discount",
    "weekly",
    "summary",
    "report",
    "team",
    "project",
    "meeting",
    "schedule",
    "the",
    "and",
    "your",
    "with",
    "for",
    "from",
    "please",
    "thanks",
];

/// A deterministic pseudo-random stream (xorshift), so every run seeds the same mail.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn bulk_message(n: usize, noise: &mut Noise) -> Vec<u8> {
    let mut body = String::with_capacity(2100);
    let mut line = 0u32;
    while body.len() < 2048 {
        let word = WORDS[(noise.next() % WORDS.len() as u64) as usize];
        if noise.next().is_multiple_of(8) {
            body.push_str(&format!("{word}{} ", noise.next() % 100_000));
        } else {
            body.push_str(word);
            body.push(' ');
        }
        line += 1;
        if line.is_multiple_of(12) {
            body.push_str("\r\n");
        }
    }
    format!(
        "From: Shop {n} <orders{}@shop{}.example>\r\nTo: user{n}@example.com\r\n\
         Subject: Load test message {n}\r\nDate: Tue, 1 Jul 2025 10:20:30 +0200\r\n\r\n{body}\r\n",
        n % 97,
        n % 13
    )
    .into_bytes()
}

fn rare_word(i: usize) -> String {
    format!("quokka{i:04}x")
}

fn needle_message(i: usize) -> Vec<u8> {
    format!(
        "From: Needle <needle@example.com>\r\nTo: alice@example.com\r\nSubject: Needle {i}\r\n\
         Content-Type: text/html\r\n\r\n<p>The <b>zebracorn</b> says {}.</p>\r\n",
        rare_word(i)
    )
    .into_bytes()
}

fn pending(store: &Store) -> i64 {
    let conn = rusqlite::Connection::open(store.database_path()).unwrap();
    conn.query_row("SELECT count(*) FROM fts_pending", [], |row| row.get(0)).unwrap()
}

fn database_bytes(store: &Store) -> u64 {
    let conn = rusqlite::Connection::open(store.database_path()).unwrap();
    conn.query_row("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()", [], |row| row.get(0))
        .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

fn main() {
    let messages: usize = std::env::var("SEARCH_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let temporary = tempfile::TempDir::new().unwrap();
    let dir = std::env::var_os("SEARCH_BENCH_DIR").map_or_else(|| temporary.path().to_owned(), Into::into);
    let existing = dir.join(pigeonhole::store::DATABASE_FILE).exists();
    let started = Instant::now();
    // Room for them all, as the UI bench starts its engine with --max-messages.
    let config = StoreConfig { max_messages: messages as u64 + NEEDLES as u64 + 1000, ..StoreConfig::default() };
    let store = Store::open(&dir, config, event::channel()).unwrap();
    if existing {
        println!("opened an existing mailbox in {:.1} s", started.elapsed().as_secs_f64());
        let started = Instant::now();
        while pending(&store) > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        println!("indexed what was pending in {:.1} s", started.elapsed().as_secs_f64());
        measure(&store, database_bytes(&store));
        runtime.block_on(store.close());
        return;
    }

    let started = Instant::now();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..SUBMITTERS)
            .map(|s| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut noise = Noise(0x9E37_79B9_7F4A_7C15 ^ (s as u64 + 1));
                    for n in (s..messages).step_by(SUBMITTERS) {
                        submit(&store, &bulk_message(n, &mut noise)).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        for i in 0..NEEDLES {
            submit(&store, &needle_message(i)).await;
        }
    });
    let stored = started.elapsed();
    while pending(&store) > 0 {
        std::thread::sleep(Duration::from_millis(100));
    }
    let indexed = started.elapsed();
    let total = messages + NEEDLES;
    let bytes = database_bytes(&store);
    println!(
        "seeded {total} messages: stored in {:.1} s ({:.0}/s), indexed after {:.1} s ({:.0}/s overall)",
        stored.as_secs_f64(),
        total as f64 / stored.as_secs_f64(),
        indexed.as_secs_f64(),
        total as f64 / indexed.as_secs_f64()
    );
    measure(&store, bytes);
    runtime.block_on(store.close());
}

/// Search latencies, p50 and p99.
fn measure(store: &Store, bytes: u64) {
    let total = store.list(0, 1).unwrap().total;
    println!("database: {bytes} bytes for {total} messages, {:.0} bytes/message", bytes as f64 / total as f64);
    let rare = rare_word(42);
    let inside = rare[2..10].to_owned();
    // The two-character term reads all the text: fewer runs.
    for (label, query, hits, runs) in [
        ("rare word", rare.as_str(), Some(1), REPS),
        ("common word", "zebracorn", Some(NEEDLES), REPS),
        ("substring", inside.as_str(), Some(1), REPS),
        ("two characters", "kk", None, REPS / 10),
    ] {
        let check = store.search(query, 0, 50).unwrap();
        if let Some(hits) = hits {
            // A word index finds no substring: say so rather than fail, so that
            // the bench runs against one too.
            if check.messages_count != hits as u64 {
                println!("{label:>14} {query:>12}: {} hits, expected {hits}", check.messages_count);
            }
        }
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(store.search(query, 0, 50).unwrap());
                t.elapsed()
            })
            .collect();
        times.sort();
        println!(
            "{label:>14} {query:>12}: p50 {:.2} ms, p99 {:.2} ms ({} hits, {runs} runs)",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            check.messages_count
        );
    }
}
