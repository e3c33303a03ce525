//! The message diff (`GET /api/v1/diff`, `pigeonhole diff`): a typical 50 KB
//! marketing message (benches/data/marketing.eml: text and HTML, nested tables,
//! inline styles, a `<style>` block) against the same message sent again with a
//! few changes: new Date, Message-ID and boundary, a new discount in the subject,
//! text and HTML, one link changed. Both check reports are part of it.
//!
//! Run: `cargo bench -p pigeonhole --bench diff`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use pigeonhole::diff::{DiffOptions, Side, compare};
use pigeonhole::model::Envelope;

fn diff(c: &mut Criterion) {
    let a = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/marketing.eml"))
        .expect("benches/data/marketing.eml");
    let b = a
        .replace("Date: Mon, 07 Dec 2026 10:00:00 +0000", "Date: Tue, 08 Dec 2026 09:30:00 +0000")
        .replace("<spring-2026@shop.example>", "<spring-2026-resend@shop.example>")
        .replace("boundary=\"alt\"", "boundary=\"alt-2\"")
        .replace("\n--alt", "\n--alt-2")
        .replace("40%", "50%")
        .replace("https://shop.example/spring", "https://shop.example/spring-sale");
    let envelope = Envelope::default();
    let (a, b) = (
        Side { label: "a", raw: a.as_bytes(), envelope: &envelope },
        Side { label: "b", raw: b.as_bytes(), envelope: &envelope },
    );
    let options = DiffOptions::default();
    assert!(!compare(a, b, &options).equal, "the bench's messages differ");
    c.bench_function("diff/marketing-50KB", |bench| bench.iter(|| black_box(compare(a, b, &options))));
}

criterion_group!(benches, diff);
criterion_main!(benches);
