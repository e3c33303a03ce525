//! Attachment thumbnails for `GET /api/v1/message/{ID}/part/{PartID}/thumb`: always a
//! 180×120 JPEG, as Mailpit answers. An image at least that big is scaled to cover
//! the frame and cropped to its centre; a smaller one is scaled to fit and centred on
//! white; anything that is not a decodable image (a PDF, a truncated PNG, a format
//! we do not decode) gives a blank white frame, so a client's grid never breaks.
//!
//! The decoder is limited ([`MAX_SIDE`], [`MAX_ALLOC`]): an attachment's size says
//! little about its pixel count, and a small file can claim an enormous canvas.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits, Rgb, RgbImage, Rgba, RgbaImage};

pub const WIDTH: u32 = 180;
pub const HEIGHT: u32 = 120;

/// JPEG quality of the thumbnail: small files, no visible blocks at this size.
const QUALITY: u8 = 85;

/// Largest image decoded (either side, in pixels) and most memory the decoder may
/// take: checked against the image's header before any pixel is decoded.
const MAX_SIDE: u32 = 10_000;
const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// The thumbnail of an attachment with media type `media_type` and bytes `body`.
pub fn thumbnail(media_type: &str, body: &[u8]) -> Vec<u8> {
    let frame = if media_type.trim().to_ascii_lowercase().starts_with("image/") {
        decode(body).map(|image| frame(&image))
    } else {
        None
    };
    encode(&frame.unwrap_or_else(blank))
}

fn decode(body: &[u8]) -> Option<DynamicImage> {
    let mut reader = ImageReader::new(Cursor::new(body)).with_guessed_format().ok()?;
    if !matches!(reader.format()?, ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP) {
        return None;
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    reader.decode().ok()
}

/// `image` in the 180×120 frame: covering and centre-cropped when it is at least as
/// big, fitted and centred when it is smaller in either direction. Transparent
/// pixels show white, as they would on a mail client's page.
fn frame(image: &DynamicImage) -> RgbImage {
    let fitted = if image.width() < WIDTH || image.height() < HEIGHT {
        image.resize(WIDTH, HEIGHT, FilterType::Lanczos3)
    } else {
        image.resize_to_fill(WIDTH, HEIGHT, FilterType::Lanczos3)
    };
    let mut canvas = RgbaImage::from_pixel(WIDTH, HEIGHT, Rgba([255, 255, 255, 255]));
    let x = i64::from((WIDTH - fitted.width()) / 2);
    let y = i64::from((HEIGHT - fitted.height()) / 2);
    image::imageops::overlay(&mut canvas, &fitted.to_rgba8(), x, y);
    DynamicImage::ImageRgba8(canvas).to_rgb8()
}

fn blank() -> RgbImage {
    RgbImage::from_pixel(WIDTH, HEIGHT, Rgb([255, 255, 255]))
}

fn encode(frame: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY);
    frame.write_with_encoder(encoder).expect("encoding a small RGB image into memory cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32, color: [u8; 4]) -> Vec<u8> {
        let image = image::RgbaImage::from_pixel(width, height, image::Rgba(color));
        let mut out = Vec::new();
        image.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).unwrap();
        out
    }

    fn decoded(jpeg: &[u8]) -> RgbImage {
        assert_eq!(image::guess_format(jpeg).unwrap(), ImageFormat::Jpeg);
        image::load_from_memory(jpeg).unwrap().to_rgb8()
    }

    fn near(pixel: &Rgb<u8>, expected: [u8; 3]) -> bool {
        pixel.0.iter().zip(expected).all(|(a, b)| a.abs_diff(b) < 12)
    }

    #[test]
    fn large_image_covers_the_frame() {
        let thumb = decoded(&thumbnail("image/png", &png(900, 300, [200, 0, 0, 255])));
        assert_eq!(thumb.dimensions(), (WIDTH, HEIGHT));
        assert!(near(thumb.get_pixel(0, 0), [200, 0, 0]) && near(thumb.get_pixel(179, 119), [200, 0, 0]));
    }

    #[test]
    fn small_image_is_centred_on_white() {
        let thumb = decoded(&thumbnail("image/png", &png(40, 20, [0, 0, 200, 255])));
        assert_eq!(thumb.dimensions(), (WIDTH, HEIGHT));
        // 40×20 fitted into 180×120 is 180×90: white bands above and below.
        assert!(near(thumb.get_pixel(90, 2), [255, 255, 255]));
        assert!(near(thumb.get_pixel(90, 60), [0, 0, 200]));
    }

    #[test]
    fn transparency_shows_white() {
        let thumb = decoded(&thumbnail("image/png", &png(400, 400, [0, 0, 0, 0])));
        assert!(near(thumb.get_pixel(90, 60), [255, 255, 255]));
    }

    #[test]
    fn anything_else_is_blank() {
        for (media_type, body) in [
            ("application/pdf", b"%PDF-1.4".to_vec()),
            ("image/png", b"\x89PNG\r\n\x1a\nbroken".to_vec()),
            ("image/png", png(50, 50, [0, 0, 0, 255])[..40].to_vec()),
        ] {
            let thumb = decoded(&thumbnail(media_type, &body));
            assert_eq!(thumb.dimensions(), (WIDTH, HEIGHT));
            assert!(thumb.pixels().all(|p| near(p, [255, 255, 255])), "{media_type}");
        }
    }
}
