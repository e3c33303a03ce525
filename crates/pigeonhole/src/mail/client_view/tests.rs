use super::*;

fn view(view: ClientView, html: &str) -> ClientHtml<'_> {
    apply(view, html)
}

fn removed(notes: &ViewNotes, feature: &str) -> usize {
    notes.removed.iter().filter(|r| r.feature == feature).map(|r| r.count).sum()
}

const STYLED: &str = r#"<html><head><style>
    .card { border-radius: 8px; color: #333333 }
    a:hover { color: red }
    @media (max-width: 600px) { .card { padding: 4px } }
    </style><link rel="stylesheet" href="https://cdn.test/a.css"></head>
    <body><div class="card" style="border-radius: 6px; max-width: 600px; color: #112233">Hello</div>
    <img src="https://img.test/a.png" srcset="https://img.test/a@2x.png 2x" alt="Logo">
    </body></html>"#;

#[test]
fn outlook_drops_what_word_does_not_support_and_keeps_the_rest() {
    let out = view(ClientView::Outlook, STYLED);
    // Unsupported on Outlook for Windows: border-radius, :hover, @media, srcset.
    assert!(!out.html.contains("border-radius"), "{}", out.html);
    assert!(!out.html.contains(":hover"), "{}", out.html);
    assert!(!out.html.contains("@media"), "{}", out.html);
    assert!(!out.html.contains("srcset"), "{}", out.html);
    assert_eq!(removed(&out.notes, "css-border-radius"), 2);
    assert_eq!(removed(&out.notes, "css-pseudo-class-hover"), 1);
    // Kept: colours (supported) and max-width (partly supported), the <link> (supported).
    assert!(out.html.contains("color: #112233"), "{}", out.html);
    assert!(out.html.contains("max-width: 600px"), "{}", out.html);
    assert!(out.html.contains("cdn.test/a.css"), "{}", out.html);
    // Outlook asks before loading pictures: the remote image has only its alt text.
    assert_eq!(out.notes.images_blocked, 1);
    assert!(!out.html.contains("img.test/a.png"), "{}", out.html);
    assert!(out.html.contains("alt=\"Logo\""), "{}", out.html);
    assert!(out.notes.summary.starts_with("Outlook dropped 2 declarations: border-radius ×2"), "{}", out.notes.summary);
    assert!(out.notes.removed.iter().all(|r| r.check == "html.client-support" && r.url.starts_with("https://")));
    assert_eq!(out.notes.default_dark, "partial");
}

#[test]
fn gmail_drops_linked_sheets_and_keeps_border_radius() {
    let out = view(ClientView::Gmail, STYLED);
    assert!(!out.html.contains("cdn.test/a.css"), "{}", out.html);
    assert_eq!(removed(&out.notes, "html-link"), 1);
    assert!(out.html.contains("border-radius: 6px"), "{}", out.html);
    assert!(out.html.contains("border-radius: 8px"), "{}", out.html);
    // Gmail shows images (through its proxy).
    assert_eq!(out.notes.images_blocked, 0);
    assert!(out.html.contains("img.test/a.png"));
    assert!(!out.notes.clipped);
}

#[test]
fn gmail_drops_a_style_block_it_cannot_parse() {
    let html = "<style>.a { color: red } .b { color: blue </style><style>.c { color: green }</style><p class=a>x</p>";
    let out = view(ClientView::Gmail, html);
    assert!(!out.html.contains("color: red"), "{}", out.html);
    assert!(out.html.contains("color: green"), "{}", out.html);
    assert_eq!(out.notes.removed.iter().find(|r| r.kind == "style-block").map(|r| r.count), Some(1));
    // Apple Mail parses what it can: the block stays.
    assert!(view(ClientView::AppleMail, html).html.contains("color: red"));
}

#[test]
fn apple_mail_keeps_everything_here() {
    let out = view(ClientView::AppleMail, STYLED);
    assert!(out.notes.removed.is_empty(), "{:?}", out.notes.removed);
    assert_eq!(out.notes.summary, "");
    assert!(out.html.contains("srcset") && out.html.contains(":hover") && out.html.contains("border-radius"));
    assert_eq!(out.notes.default_dark, "prefers");
}

#[test]
fn yahoo_and_outlook_com_follow_their_own_data() {
    // `srcset` is unsupported on both; `@import` only on Yahoo among them.
    let html = "<style>@import url(https://x.test/a.css); .a { color: red }</style>\
                <img src=\"a.png\" srcset=\"b.png 2x\">";
    let yahoo = view(ClientView::Yahoo, html);
    assert!(!yahoo.html.contains("@import") && !yahoo.html.contains("srcset"), "{}", yahoo.html);
    assert!(yahoo.html.contains(".a { color: red }") || yahoo.html.contains(".a {color: red}"), "{}", yahoo.html);
    let outlook_com = view(ClientView::OutlookCom, html);
    assert!(!outlook_com.html.contains("srcset"), "{}", outlook_com.html);
    assert_eq!(outlook_com.notes.default_dark, "partial");
}

#[test]
fn as_sent_changes_nothing() {
    let out = view(ClientView::AsSent, STYLED);
    assert_eq!(out.html, STYLED);
    assert!(out.notes.removed.is_empty());
}

/// HTML of exactly `size` bytes: a paragraph padded with text.
fn html_of(size: usize) -> String {
    let head = "<html><body><p>";
    let tail = "</p><p>THE END</p></body></html>";
    format!("{head}{}{tail}", "x".repeat(size - head.len() - tail.len()))
}

#[test]
fn gmail_clips_past_102_kb_exactly() {
    let at_limit = html_of(GMAIL_CLIP_BYTES);
    assert_eq!(at_limit.len(), 102 * 1024);
    for clipping_view in [ClientView::Gmail, ClientView::GmailAndroid] {
        let kept = view(clipping_view, &at_limit);
        assert!(!kept.notes.clipped);
        assert!(kept.html.contains("THE END") && !kept.html.contains("[Message clipped]"));

        let over = html_of(GMAIL_CLIP_BYTES + 1);
        let clipped = view(clipping_view, &over);
        assert!(clipped.notes.clipped);
        assert!(clipped.html.contains("[Message clipped]") && clipped.html.contains("View entire message"));
    }
    // What lies past the clip is gone.
    let long = html_of(150 * 1024);
    assert!(!view(ClientView::Gmail, &long).html.contains("THE END"));
    // Other clients do not clip.
    let over = html_of(GMAIL_CLIP_BYTES + 1);
    assert!(!view(ClientView::Yahoo, &over).notes.clipped);
}

#[test]
fn the_removal_header_json_names_the_feature() {
    let notes = view(ClientView::Outlook, STYLED).notes;
    let json = serde_json::to_value(&notes).unwrap();
    assert_eq!(json["View"], "outlook");
    let first = &json["Removed"][0];
    assert_eq!(first["Feature"], "css-border-radius");
    assert_eq!(first["Kind"], "declaration");
    assert_eq!(first["URL"], "https://www.caniemail.com/features/css-border-radius/");
}

#[test]
fn names_parse_both_ways() {
    for client in ClientView::ALL {
        assert_eq!(ClientView::parse(client.name()), Some(client));
    }
    for mode in DarkMode::ALL {
        assert_eq!(DarkMode::parse(mode.name()), Some(mode));
    }
    assert_eq!(DarkMode::parse("1"), Some(DarkMode::Prefers));
    assert_eq!(ClientView::parse("Gmail"), None);
    assert_eq!(DarkMode::parse("yes"), None);
}
