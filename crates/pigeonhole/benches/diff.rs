//! The message diff (`GET /api/v1/diff`, `pigeonhole diff`): a typical 50 KB
//! marketing message (benches/data/marketing.eml: text and HTML, nested tables,
//! inline styles, a `<style>` block) against the same message sent again with a
//! few changes: new Date, Message-ID and boundary, a new discount in the subject,
//! text and HTML, one link changed. Both check reports are part of it.
//!
//! The visual diff's pixel comparison ([`pigeonhole::diff::visual::compare`]): two
//! 600 × 3000 screenshots, a long mail at the default width, as PNGs (decoding both,
//! comparing, encoding the difference image), B with one block recoloured.
//!
//! Run: `cargo bench -p pigeonhole --bench diff`

use std::hint::black_box;
use std::io::Cursor;

use criterion::{Criterion, criterion_group, criterion_main};
use image::{ImageFormat, Rgb, RgbImage};
use pigeonhole::diff::{DiffOptions, Side, compare, visual};
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

/// A screenshot-like page: bands of background colour with rows of dark "text"
/// strokes, so that it compresses as a real one does; `changed` recolours a block.
fn page(changed: bool) -> Vec<u8> {
    let (width, height) = (600, 3000);
    let page = RgbImage::from_fn(width, height, |x, y| {
        let band = y / 250;
        let background = Rgb([255 - (band * 7) as u8, 250, 245 - (band * 5) as u8]);
        let in_text_row = (y % 250) > 40 && (y % 250) < 200 && (y % 20) < 12;
        let stroke = in_text_row && x > 30 && x < 570 && (x * 7 + y * 3) % 11 < 6;
        if changed && (1200..1400).contains(&y) && (100..400).contains(&x) {
            Rgb([0xee, 0xee, 0xee])
        } else if stroke {
            Rgb([30, 30, 40])
        } else {
            background
        }
    });
    let mut png = Vec::new();
    page.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).expect("a PNG");
    png
}

fn pixels(c: &mut Criterion) {
    let (a, b) = (page(false), page(true));
    let found = visual::compare(&a, &b).expect("two PNGs");
    assert!(found.changed_pixels > 0 && found.changed_pixels < found.total_pixels);
    c.bench_function("diff/visual-600x3000", |bench| bench.iter(|| black_box(visual::compare(&a, &b))));
}

criterion_group!(benches, diff, pixels);
criterion_main!(benches);
