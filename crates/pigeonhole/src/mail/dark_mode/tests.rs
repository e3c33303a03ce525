use super::*;

const DOCUMENT: &str = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><style>body { background: #ffffff url(white.png); color: black }\
    @media (max-width: 600px) { .x { background-color: rgb(0, 0, 0) } }</style></head>\
    <body bgcolor=\"#ffffff\"><table bgcolor=\"ffffff\"><tr><td style=\"color: #000000; background-color: #000000\">\
    <font color=\"white\">Hi</font></td></tr></table></body></html>\n";

#[test]
fn partial_darkens_light_backgrounds_and_lightens_dark_text_only() {
    let out = apply(DOCUMENT.to_string(), DarkMode::Partial);
    // White backgrounds become #121212, black text #ededed.
    assert!(out.contains("bgcolor=\"#121212\""), "{out}");
    assert!(!out.contains("bgcolor=\"ffffff\""), "{out}");
    assert!(out.contains("background: #121212 url(white.png)"), "{out}");
    assert!(out.contains("color: #ededed"), "{out}");
    // A dark background and light text are left as they are.
    assert!(out.contains("background-color: #000000"), "{out}");
    assert!(out.contains("background-color: rgb(0, 0, 0)"), "{out}");
    assert!(out.contains("color=\"white\""), "{out}");
    // The client's own dark page under the message.
    assert!(out.contains("html{background:#121212;color:#ededed}"), "{out}");
}

#[test]
fn full_inverts_every_colour() {
    let out = apply(DOCUMENT.to_string(), DarkMode::Full);
    assert!(out.contains("bgcolor=\"#121212\""), "{out}");
    // Dark backgrounds become light, light text dark.
    assert!(out.contains("background-color: #ededed"), "{out}");
    assert!(out.contains(".x { background-color: #ededed }"), "{out}");
    assert!(out.contains("color=\"#121212\""), "{out}");
}

#[test]
fn hue_is_kept_and_lightness_mirrored() {
    // A light blue background becomes a dark blue.
    let dark = colour("#cce0ff", Role::Background, DarkMode::Partial).unwrap();
    let color = csscolorparser::parse(&dark).unwrap();
    assert!(color.b > color.r && luminance(&color) < 0.1, "{dark}");
    // Transparent and non-colours stay.
    assert_eq!(colour("transparent", Role::Background, DarkMode::Full), None);
    assert_eq!(colour("inherit", Role::Foreground, DarkMode::Full), None);
}

#[test]
fn none_and_prefers_leave_the_document() {
    assert_eq!(apply(DOCUMENT.to_string(), DarkMode::None), DOCUMENT);
    assert_eq!(apply(DOCUMENT.to_string(), DarkMode::Prefers), DOCUMENT);
}
