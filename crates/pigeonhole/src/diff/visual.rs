//! The visual diff's pixel comparison: two screenshots (PNG bytes) in, how many
//! pixels changed and a difference image out. Pure: the screenshots are taken by
//! the caller (the API, through [`crate::screenshot`]), so this module knows
//! nothing of browsers or routes.
//!
//! The images are compared over the union of both sizes: a pixel that only one of
//! them has counts as changed (a taller page is a change). A pixel present in both
//! counts as changed when any channel differs by more than [`CHANNEL_TOLERANCE`].
//! The difference image is B greyed and lightened, with every changed pixel in
//! solid magenta, so the changes stand out whatever the mail's colours.

use image::{ImageFormat, Rgba, RgbaImage};
use serde::{Deserialize, Serialize};

/// How far (out of 255) a channel may differ before the pixel counts as changed.
/// The same Chromium rendering the same page twice can still differ by a step or
/// two in anti-aliased edges and gradients; 8 swallows that noise while any real
/// change of colour (a background from `#ffffff` to `#f4f4f4` is 11) still counts.
pub const CHANNEL_TOLERANCE: u8 = 8;

/// Solid magenta: no mail is likely to use it, so a changed pixel is unmistakable.
const CHANGED: Rgba<u8> = Rgba([0xff, 0x00, 0xff, 0xff]);

/// What [`compare`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PixelComparison {
    pub a_width: u32,
    pub a_height: u32,
    pub b_width: u32,
    pub b_height: u32,
    /// Pixels of the union of both sizes that changed.
    pub changed_pixels: u64,
    /// Pixels in the union of both sizes.
    pub total_pixels: u64,
    /// The difference image, a PNG of the union size.
    pub difference_png: Vec<u8>,
}

impl PixelComparison {
    /// The changed pixels as a percentage of all of them (0 for two empty images).
    pub fn changed_percent(&self) -> f64 {
        if self.total_pixels == 0 { 0.0 } else { self.changed_pixels as f64 * 100.0 / self.total_pixels as f64 }
    }
}

/// The visual diff's section of a [`super::DiffReport`]: what was rendered, how it
/// was compared and what changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct VisualDiff {
    /// The browser window's width in CSS pixels.
    pub width: u32,
    /// The mail client's view the screenshots show (`as-sent` when none was asked for).
    pub view: String,
    /// The dark mode the screenshots show (`none` when none was asked for).
    pub dark: String,
    /// The percentage of changed pixels still called equal.
    pub threshold: f64,
    pub a_width: u32,
    pub a_height: u32,
    pub b_width: u32,
    pub b_height: u32,
    pub changed_pixels: u64,
    /// Pixels in the union of both screenshots' sizes.
    pub total_pixels: u64,
    pub changed_percent: f64,
    /// `ChangedPercent <= Threshold`.
    pub equal: bool,
    /// A's screenshot: a stored message's screenshot route, or for a posted file
    /// `/api/v1/diff/capture/{KEY}.png`, answered while the screenshot cache keeps it.
    pub a_url: String,
    /// B's screenshot, as `AUrl`.
    pub b_url: String,
    /// The difference image: B greyed, changed pixels in magenta. `/api/v1/diff.png`
    /// for two stored messages, else `/api/v1/diff/capture/{KEY}.png` as `AUrl`.
    pub difference_url: String,
}

/// Compares two PNG screenshots pixel by pixel. Errors when either is not a PNG.
pub fn compare(a_png: &[u8], b_png: &[u8]) -> Result<PixelComparison, image::ImageError> {
    let a = image::load_from_memory_with_format(a_png, ImageFormat::Png)?.to_rgba8();
    let b = image::load_from_memory_with_format(b_png, ImageFormat::Png)?.to_rgba8();
    let (width, height) = (a.width().max(b.width()), a.height().max(b.height()));
    let mut difference = RgbaImage::new(width, height);
    let mut changed_pixels = 0u64;
    for (x, y, out) in difference.enumerate_pixels_mut() {
        let a_pixel = a.get_pixel_checked(x, y);
        let b_pixel = b.get_pixel_checked(x, y);
        let changed = match (a_pixel, b_pixel) {
            (Some(a_pixel), Some(b_pixel)) => differs(a_pixel, b_pixel),
            _ => true,
        };
        *out = match (changed, b_pixel) {
            (false, Some(b_pixel)) => greyed(b_pixel),
            _ => CHANGED,
        };
        changed_pixels += u64::from(changed);
    }
    let mut difference_png = Vec::new();
    difference.write_to(&mut std::io::Cursor::new(&mut difference_png), ImageFormat::Png)?;
    Ok(PixelComparison {
        a_width: a.width(),
        a_height: a.height(),
        b_width: b.width(),
        b_height: b.height(),
        changed_pixels,
        total_pixels: u64::from(width) * u64::from(height),
        difference_png,
    })
}

fn differs(a: &Rgba<u8>, b: &Rgba<u8>) -> bool {
    a.0.iter().zip(b.0.iter()).any(|(a, b)| a.abs_diff(*b) > CHANNEL_TOLERANCE)
}

/// A pixel of B as the difference image shows it: its luminance, lightened to a
/// third of its contrast, so the page stays recognizable behind the magenta.
fn greyed(pixel: &Rgba<u8>) -> Rgba<u8> {
    let [r, g, b, _] = pixel.0.map(u32::from);
    let luma = (r * 299 + g * 587 + b * 114) / 1000;
    let grey = ((luma + 2 * 255) / 3) as u8;
    Rgba([grey, grey, grey, 0xff])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(image: &RgbaImage) -> Vec<u8> {
        let mut bytes = Vec::new();
        image.write_to(&mut std::io::Cursor::new(&mut bytes), ImageFormat::Png).unwrap();
        bytes
    }

    fn solid(width: u32, height: u32, colour: [u8; 3]) -> RgbaImage {
        RgbaImage::from_pixel(width, height, Rgba([colour[0], colour[1], colour[2], 0xff]))
    }

    fn decoded(png: &[u8]) -> RgbaImage {
        image::load_from_memory_with_format(png, ImageFormat::Png).unwrap().to_rgba8()
    }

    #[test]
    fn identical_images_have_no_changed_pixel() {
        let image = png(&solid(20, 10, [10, 200, 30]));
        let found = compare(&image, &image).unwrap();
        assert_eq!((found.changed_pixels, found.total_pixels), (0, 200));
        assert_eq!(found.changed_percent(), 0.0);
        let difference = decoded(&found.difference_png);
        assert_eq!(difference.dimensions(), (20, 10));
        assert!(difference.pixels().all(|pixel| *pixel != CHANGED));
    }

    #[test]
    fn one_changed_pixel_counts_once_and_is_magenta() {
        let a = solid(20, 10, [255, 255, 255]);
        let mut b = a.clone();
        b.put_pixel(3, 4, Rgba([0, 0, 0, 0xff]));
        let found = compare(&png(&a), &png(&b)).unwrap();
        assert_eq!(found.changed_pixels, 1);
        assert!((found.changed_percent() - 0.5).abs() < 1e-9);
        let difference = decoded(&found.difference_png);
        assert_eq!(*difference.get_pixel(3, 4), CHANGED);
        assert_eq!(difference.pixels().filter(|pixel| **pixel == CHANGED).count(), 1);
        // The unchanged white stays light grey, not magenta and not dark.
        assert_eq!(*difference.get_pixel(0, 0), Rgba([255, 255, 255, 0xff]));
    }

    #[test]
    fn rows_only_one_image_has_count_as_changed() {
        let a = png(&solid(10, 10, [0, 0, 0]));
        let b = png(&solid(10, 13, [0, 0, 0]));
        let found = compare(&a, &b).unwrap();
        assert_eq!((found.a_height, found.b_height), (10, 13));
        assert_eq!((found.changed_pixels, found.total_pixels), (30, 130));
        // The other way round: the union, not B's size.
        let found = compare(&b, &a).unwrap();
        assert_eq!((found.changed_pixels, found.total_pixels), (30, 130));
        assert_eq!(decoded(&found.difference_png).dimensions(), (10, 13));
        assert_eq!(*decoded(&found.difference_png).get_pixel(5, 12), CHANGED);
    }

    #[test]
    fn differences_up_to_the_tolerance_are_noise() {
        let a = png(&solid(4, 4, [100, 100, 100]));
        let within = png(&solid(4, 4, [100, 100 + CHANNEL_TOLERANCE, 100 - CHANNEL_TOLERANCE]));
        let beyond = png(&solid(4, 4, [100, 100, 101 + CHANNEL_TOLERANCE]));
        assert_eq!(compare(&a, &within).unwrap().changed_pixels, 0);
        assert_eq!(compare(&a, &beyond).unwrap().changed_pixels, 16);
    }

    #[test]
    fn not_a_png_is_an_error() {
        assert!(compare(b"not a png", &png(&solid(1, 1, [0, 0, 0]))).is_err());
    }
}
