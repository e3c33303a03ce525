//! The ingest path, stage by stage, for a 2 KB and a 50 KB message: summarise
//! (mail-parser), compress (zstd), and submit through the store's writer to a
//! committed SQLite transaction — one message at a time (each waits for its own
//! commit) and from 64 concurrent submitters (group commit).
//!
//! Run: `cargo bench -p pigeonhole --bench ingest`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pigeonhole::config::StoreConfig;
use pigeonhole::model::event;
use pigeonhole::store::Store;

mod common;
use common::submit;

/// Submitters in the concurrent case (SMTP sessions delivering at once).
const SUBMITTERS: u64 = 64;

/// A typical transactional message of about `size` bytes: text and HTML
/// alternatives, padded with a base64 attachment when `size` calls for one.
fn message(size: usize) -> Vec<u8> {
    let text = "Hello Alice,\r\n\r\nyour order #12345 has shipped and will arrive on Friday.\r\n\
                Track it at https://shop.example/track/12345.\r\n\r\nThanks,\r\nThe Shop\r\n";
    let html = "<html><body><p>Hello Alice,</p><p>your order <b>#12345</b> has shipped and will \
                arrive on Friday. <a href=\"https://shop.example/track/12345\">Track it</a>.</p>\
                <p>Thanks,<br>The Shop</p></body></html>\r\n";
    let mut raw = format!(
        "Received: from client.example (localhost [127.0.0.1]) by pigeonhole.localhost\r\n\
         Date: Tue, 1 Jul 2025 10:20:30 +0200\r\nFrom: The Shop <orders@shop.example>\r\n\
         To: Alice Example <alice@example.com>\r\nSubject: Your order #12345 has shipped\r\n\
         Message-ID: <order-12345@shop.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=outer\r\n\r\n\
         --outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n\
         --inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\
         --inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}--inner--\r\n"
    );
    let footer = "--outer--\r\n";
    let header = "--outer\r\nContent-Type: application/pdf\r\n\
                  Content-Disposition: attachment; filename=invoice.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    let room = size.saturating_sub(raw.len() + footer.len() + header.len());
    if room > 0 {
        raw.push_str(header);
        // Pseudo-random bytes, base64-like and incompressible like a real PDF.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut x: u32 = 0x9E37_79B9;
        let mut line = 0;
        for _ in 0..room.saturating_sub(room / 78 * 2) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            raw.push(ALPHABET[(x % 64) as usize] as char);
            line += 1;
            if line == 76 {
                raw.push_str("\r\n");
                line = 0;
            }
        }
        raw.push_str("\r\n");
    }
    raw.push_str(footer);
    raw.into_bytes()
}

fn ingest(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    for (label, size) in [("2KB", 2 * 1024), ("50KB", 50 * 1024)] {
        let raw = message(size);
        let mut group = c.benchmark_group("ingest");
        group.throughput(Throughput::Elements(1));
        group.measurement_time(Duration::from_secs(8));

        group.bench_function(BenchmarkId::new("summarize", label), |b| {
            b.iter(|| pigeonhole::mail::summarize(black_box(&raw)))
        });
        // As the store compresses: one reused context per thread.
        let mut compressor = zstd::bulk::Compressor::new(pigeonhole::store::ZSTD_LEVEL).unwrap();
        group.bench_function(BenchmarkId::new("compress", label), |b| {
            b.iter(|| compressor.compress(black_box(&raw)).unwrap())
        });

        let dir = tempfile::TempDir::new().unwrap();
        let store = Store::open(dir.path(), StoreConfig::default(), event::channel()).unwrap();
        group.bench_function(BenchmarkId::new("submit_one_at_a_time", label), |b| {
            b.iter(|| runtime.block_on(submit(&store, &raw)))
        });
        group.bench_function(BenchmarkId::new("submit_64_concurrent", label), |b| {
            b.iter_custom(|messages| {
                runtime.block_on(async {
                    let started = Instant::now();
                    let tasks: Vec<_> = (0..SUBMITTERS)
                        .map(|n| {
                            let (store, raw) = (store.clone(), raw.clone());
                            let share = messages / SUBMITTERS + u64::from(n < messages % SUBMITTERS);
                            tokio::spawn(async move {
                                for _ in 0..share {
                                    submit(&store, &raw).await;
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                    started.elapsed()
                })
            })
        });
        group.finish();
        runtime.block_on(store.close());
    }
}

criterion_group!(benches, ingest);
criterion_main!(benches);
