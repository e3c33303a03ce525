//! The check report (`GET /api/v1/message/{ID}/checks`): for a typical 50 KB
//! marketing message (benches/data/marketing.eml: nested tables, images with and
//! without alt, tracked links, inline styles and a `<style>` block), and for
//! hostile HTML that must still answer in well under a second: a 10 MB body, a
//! million links, 50,000 nested elements.
//!
//! Run: `cargo bench -p pigeonhole --bench checks`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use pigeonhole::checks::{Extras, report};
use pigeonhole::model::Envelope;

fn envelope() -> Envelope {
    Envelope {
        mail_from: "bounce@shop.example".into(),
        rcpt_to: vec!["alice@example.com".into()],
        helo: "shop.example".into(),
        peer: "127.0.0.1:40000".into(),
        tls: true,
        auth_user: None,
        transcript: "C: EHLO shop.example\nC: STARTTLS\nC: MAIL FROM:<bounce@shop.example>\n".into(),
        api: None,
        simulation: None,
    }
}

/// A message whose HTML part is `html`.
fn with_html(html: &str) -> Vec<u8> {
    format!(
        "From: Shop <news@shop.example>\r\nTo: alice@example.com\r\nSubject: s\r\n\
         Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <h@shop.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
    )
    .into_bytes()
}

fn checks(c: &mut Criterion) {
    let envelope = envelope();
    let extras = Extras::default();
    let marketing = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/marketing.eml"))
        .expect("benches/data/marketing.eml");
    c.bench_function("report/marketing-50KB", |b| b.iter(|| black_box(report(&marketing, &envelope, &extras))));

    let mut hostile = c.benchmark_group("report/hostile");
    hostile.sample_size(10).measurement_time(Duration::from_secs(20));
    let paragraph = "<p style=\"color:#999\">Lorem ipsum dolor sit amet <a href=\"http://x.example/\">click here</a> \
                     <img src=\"https://t.example/p.gif\" width=1 height=1></p>\n";
    let ten_mb = with_html(&paragraph.repeat(10 * 1024 * 1024 / paragraph.len()));
    hostile.bench_function("10MB-body", |b| b.iter(|| black_box(report(&ten_mb, &envelope, &extras))));
    let million_links = with_html(&"<a href=\"http://localhost/\">x</a>".repeat(1_000_000));
    hostile.bench_function("million-links", |b| b.iter(|| black_box(report(&million_links, &envelope, &extras))));
    let nested = with_html(&format!("{}x{}", "<div>".repeat(50_000), "</div>".repeat(50_000)));
    hostile.bench_function("50000-nested-divs", |b| b.iter(|| black_box(report(&nested, &envelope, &extras))));
    hostile.finish();
}

criterion_group!(benches, checks);
criterion_main!(benches);
