//! Screenshots of messages: the sanitized document the UI's preview shows
//! (`/view/{ID}.html?embed=1`, with `view=` and `dark=` passed on as given), rendered
//! by a real headless Chromium to a PNG of the whole page, for
//! `GET /api/v1/message/{ID}/screenshot.png` ([`crate::api`]).
//!
//! * [`browser`]: which browser ([`browser::find`]: `--browser`, else `chromium`,
//!   `chromium-browser` or `google-chrome` on `PATH`), started headless with no
//!   network, script off and a throwaway profile; killed with its renderers when
//!   dropped.
//! * [`cdp`]: the DevTools protocol over a pipe (no debugging port is opened).
//! * [`page`]: one render: a fresh browser context, every request the page makes
//!   answered from the engine's router in-process (the document, the message's own
//!   parts) or failed, so remote images, sheets and `@import`s never load.
//! * Here, [`Screenshots`]: the browser started on first use and kept (started
//!   again when it died), one render at a time with a bounded queue behind it, a
//!   timeout after which the browser is killed, a height cap, and a small cache of
//!   finished PNGs by message and parameters (messages never change). The visual
//!   diff *publishes* PNGs in that cache ([`Screenshots::publish`]: a posted file's
//!   screenshot, a difference image) under an opaque key its report names, and only
//!   those are answered by key ([`Screenshots::published`]) until evicted.

mod browser;
mod cdp;
mod page;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::config::ScreenshotConfig;
use browser::Browser;
pub use browser::NotFound;
pub use cdp::CdpError;
use page::Page;
pub use page::{Answer, Capture};

/// What to take a screenshot of.
pub struct Request<'a> {
    /// A message ID (not `latest`: the cache is keyed by it).
    pub message_id: &'a str,
    /// The window's width in CSS pixels (one device pixel each).
    pub width: u32,
    /// Passed on to the view route as given (it validates them).
    pub view: Option<&'a str>,
    pub dark: Option<&'a str>,
}

/// Why there is no screenshot.
#[derive(Debug, thiserror::Error)]
pub enum ScreenshotError {
    #[error(transparent)]
    NoBrowser(#[from] NotFound),
    /// The view route did not answer 200 (no such message, no HTML part, a `view`
    /// or `dark` it does not know): its answer, to pass on.
    #[error("the document answered {}", .0.status)]
    Document(Answer),
    #[error("{0} screenshots are already waiting for the browser; try again in a moment")]
    Busy(usize),
    #[error(
        "the screenshot took longer than {0:?} and was stopped (the page is too heavy to render in time); \
         the browser was restarted, so other screenshots work. Look at it in the HTML preview instead"
    )]
    TimedOut(Duration),
    #[error(
        "cannot start the browser {0}: {1}. Check that `{0} --headless --version` runs, or point --browser \
         (PIGEONHOLE_BROWSER) at another Chromium"
    )]
    Launch(String, std::io::Error),
    #[error(
        "the browser failed while rendering: {0}. It is started again for the next screenshot; if this repeats, \
         check that the browser runs (`chromium --headless --version`)"
    )]
    Browser(#[from] CdpError),
}

/// Takes screenshots, one at a time, in one long-lived browser. Cheap to share.
pub struct Screenshots {
    config: ScreenshotConfig,
    /// The browser, once started; the lock is the one-at-a-time turn (tokio's mutex
    /// is fair: first come, first served).
    browser: tokio::sync::Mutex<Option<Browser>>,
    /// Requests waiting for their turn (not the one rendering).
    waiting: AtomicUsize,
    cache: std::sync::Mutex<Cache>,
}

impl Screenshots {
    pub fn new(config: ScreenshotConfig) -> Screenshots {
        let cache = Cache::new(config.cache_bytes);
        Screenshots {
            config,
            browser: tokio::sync::Mutex::new(None),
            waiting: AtomicUsize::new(0),
            cache: std::sync::Mutex::new(cache),
        }
    }

    /// The screenshot of `request`, from the cache or rendered. `router` answers the
    /// document and its parts, in-process: the API's own routes.
    pub async fn take(&self, router: &Router, request: &Request<'_>) -> Result<Arc<Capture>, ScreenshotError> {
        let path = document_path(request);
        let key = key(request);
        if let Some(hit) = self.cache.lock().expect("screenshot cache").get(&key) {
            return Ok(hit.capture);
        }
        // The document's own refusals first (no such message, a `view` it does not
        // know): they say more than a missing browser.
        let document = Answer::get(router, &path).await;
        if !document.status.is_success() {
            return Err(ScreenshotError::Document(document));
        }
        let executable = browser::find(self.config.browser.as_deref())?;

        let mut browser = match self.browser.try_lock() {
            Ok(idle) => idle,
            Err(_) => {
                let waiting = Waiting::join(&self.waiting);
                if waiting.ahead >= self.config.queue {
                    return Err(ScreenshotError::Busy(waiting.ahead));
                }
                self.browser.lock().await
            }
        };
        // Rendered by a request that was ahead in the queue.
        if let Some(hit) = self.cache.lock().expect("screenshot cache").get(&key) {
            return Ok(hit.capture);
        }
        let subresources = format!("/api/v1/message/{}/part/", request.message_id);
        let page = Page {
            path: &path,
            document: &document,
            subresources: &subresources,
            router,
            width: request.width,
            max_height: self.config.max_height,
        };
        let rendered = tokio::time::timeout(self.config.timeout, render(&mut browser, &executable, &page)).await;
        let captured = match rendered {
            Ok(Ok(capture)) => Arc::new(capture),
            Ok(Err(err)) => {
                *browser = None;
                return Err(err);
            }
            Err(_) => {
                // Whatever it is stuck on, a new browser is not.
                *browser = None;
                return Err(ScreenshotError::TimedOut(self.config.timeout));
            }
        };
        self.cache.lock().expect("screenshot cache").insert(key, captured.clone(), false);
        Ok(captured)
    }

    /// Keeps `capture` in the cache under `key` (from [`key`] or [`key_of`]) and
    /// makes it answerable by that key, until evicted.
    pub fn publish(&self, key: String, capture: Arc<Capture>) {
        self.cache.lock().expect("screenshot cache").insert(key, capture, true);
    }

    /// A PNG [`Screenshots::publish`] kept, while it is cached; never another one.
    pub fn published(&self, key: &str) -> Option<Arc<Capture>> {
        self.cache.lock().expect("screenshot cache").get(key).filter(|entry| entry.published).map(|entry| entry.capture)
    }
}

/// The cache key of `request`'s screenshot: opaque (a SHA-256 of its width and
/// document path), so a published one's URL tells nothing about it.
pub fn key(request: &Request<'_>) -> String {
    key_of(&format!("{} {}", request.width, document_path(request)))
}

/// An opaque cache key for what `description` names: its SHA-256, in hex.
pub fn key_of(description: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(description.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Render `page` in the running browser, started first if there is none or it died.
async fn render(
    slot: &mut Option<Browser>,
    executable: &std::path::Path,
    page: &Page<'_>,
) -> Result<Capture, ScreenshotError> {
    if !slot.as_mut().is_some_and(Browser::is_running) {
        let launched = Browser::launch(executable)
            .map_err(|err| ScreenshotError::Launch(executable.display().to_string(), err))?;
        *slot = Some(launched);
    }
    let running = slot.as_mut().expect("a browser was just started");
    Ok(page::capture(running, page).await?)
}

/// `/view/{ID}.html?embed=1`, with `view` and `dark` as given.
fn document_path(request: &Request<'_>) -> String {
    let mut path = format!("/view/{}.html?embed=1", request.message_id);
    for (name, value) in [("view", request.view), ("dark", request.dark)] {
        if let Some(value) = value {
            path.push_str(&format!("&{name}={}", utf8_percent_encode(value, NON_ALPHANUMERIC)));
        }
    }
    path
}

/// A place in the queue, given up when dropped (served, refused or cancelled).
struct Waiting<'a> {
    count: &'a AtomicUsize,
    /// How many were waiting before this one.
    ahead: usize,
}

impl Waiting<'_> {
    fn join(count: &AtomicUsize) -> Waiting<'_> {
        Waiting { ahead: count.fetch_add(1, Ordering::SeqCst), count }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Finished screenshots by [`key`], least recently used dropped first once their
/// PNGs pass the byte budget.
struct Cache {
    entries: HashMap<String, Entry>,
    /// Bumped on every use; an entry's is when it was last used.
    clock: u64,
    bytes: usize,
    budget: usize,
}

impl Cache {
    fn new(budget: usize) -> Cache {
        Cache { entries: HashMap::new(), clock: 0, bytes: 0, budget }
    }

    fn get(&mut self, key: &str) -> Option<Entry> {
        self.clock += 1;
        let entry = self.entries.get_mut(key)?;
        entry.used = self.clock;
        Some(entry.clone())
    }

    /// Keeps `capture`; `published` makes it answerable by key (a later
    /// unpublished insert of the same key does not take that back).
    fn insert(&mut self, key: String, capture: Arc<Capture>, published: bool) {
        if capture.png.len() > self.budget {
            return;
        }
        self.clock += 1;
        self.bytes += capture.png.len();
        let published = published || self.entries.get(&key).is_some_and(|old| old.published);
        if let Some(old) = self.entries.insert(key, Entry { capture, used: self.clock, published }) {
            self.bytes -= old.capture.png.len();
        }
        while self.bytes > self.budget {
            let Some(oldest) = self.entries.iter().min_by_key(|(_, entry)| entry.used).map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some(dropped) = self.entries.remove(&oldest) {
                self.bytes -= dropped.capture.png.len();
            }
        }
    }
}

#[derive(Clone)]
struct Entry {
    capture: Arc<Capture>,
    /// The cache's clock when it was last used.
    used: u64,
    /// Put there by [`Screenshots::publish`].
    published: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(bytes: usize) -> Arc<Capture> {
        Arc::new(Capture { png: vec![0; bytes], height: 1, page_height: 1 })
    }

    #[test]
    fn the_cache_keeps_the_recently_used_within_its_budget() {
        let mut cache = Cache::new(100);
        cache.insert("a".into(), capture(40), false);
        cache.insert("b".into(), capture(40), false);
        assert!(cache.get("a").is_some());
        cache.insert("c".into(), capture(40), false);
        assert!(cache.get("b").is_none(), "the least recently used goes first");
        assert!(cache.get("a").is_some() && cache.get("c").is_some());
        assert_eq!(cache.bytes, 80);
        cache.insert("huge".into(), capture(101), false);
        assert!(cache.get("huge").is_none(), "a PNG over the whole budget is not kept");
        cache.insert("a".into(), capture(10), false);
        assert_eq!(cache.bytes, 50, "a replaced entry's bytes are given back");
    }

    #[test]
    fn only_published_captures_are_answered_by_key_until_evicted() {
        let screenshots = Screenshots::new(ScreenshotConfig { cache_bytes: 100, ..ScreenshotConfig::default() });
        let taken = key(&Request { message_id: "m", width: 300, view: None, dark: None });
        assert_eq!(taken.len(), 64, "a SHA-256 in hex: {taken}");
        screenshots.cache.lock().unwrap().insert(taken.clone(), capture(10), false);
        assert!(screenshots.published(&taken).is_none(), "a screenshot taken for its own route is not published");
        screenshots.publish(taken.clone(), capture(10));
        screenshots.cache.lock().unwrap().insert(taken.clone(), capture(10), false);
        assert!(screenshots.published(&taken).is_some(), "taking it again does not unpublish it");
        screenshots.publish(key_of("another"), capture(95));
        assert!(screenshots.published(&taken).is_none(), "evicted, it is gone");
        assert!(screenshots.published(&key_of("another")).is_some());
    }

    #[test]
    fn view_and_dark_are_passed_on_encoded() {
        let request = Request { message_id: "abc", width: 600, view: Some("outlook-com"), dark: Some("a&b") };
        assert_eq!(document_path(&request), "/view/abc.html?embed=1&view=outlook%2Dcom&dark=a%26b");
        let request = Request { message_id: "abc", width: 600, view: None, dark: None };
        assert_eq!(document_path(&request), "/view/abc.html?embed=1");
    }

    /// A fixed page as the view route would answer it, for [`Screenshots::take`].
    fn pages() -> Router {
        let page = "<body style=\"margin:0;background:#00ff00\"><div style=\"height:40px\"></div></body>";
        Router::new().route("/view/{file}", axum::routing::get(move || async move { axum::response::Html(page) }))
    }

    fn chromium() -> Screenshots {
        Screenshots::new(ScreenshotConfig { browser: Some("/usr/bin/chromium".into()), ..ScreenshotConfig::default() })
    }

    #[tokio::test]
    async fn a_timeout_kills_the_browser_and_the_next_screenshot_starts_another() {
        let mut screenshots = chromium();
        let request = Request { message_id: "m", width: 300, view: None, dark: None };
        screenshots.config.timeout = Duration::from_millis(1);
        let timed_out = screenshots.take(&pages(), &request).await;
        assert!(matches!(timed_out, Err(ScreenshotError::TimedOut(_))), "{:?}", timed_out.err());
        assert!(screenshots.browser.lock().await.is_none(), "the browser is dropped (killed)");

        screenshots.config.timeout = ScreenshotConfig::default().timeout;
        let capture = screenshots.take(&pages(), &request).await.expect("a screenshot");
        let image = image::load_from_memory(&capture.png).expect("a PNG").to_rgb8();
        assert_eq!(image.dimensions(), (300, 40));
        assert_eq!(image.get_pixel(150, 20).0, [0, 255, 0]);

        // Killed from outside, it is started again.
        let pid = screenshots.browser.lock().await.as_mut().and_then(|b| b.pid()).expect("a running browser");
        // SAFETY: kill(2) on the process this test's browser is.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        tokio::time::sleep(Duration::from_millis(200)).await;
        let request = Request { width: 301, ..request };
        assert!(screenshots.take(&pages(), &request).await.is_ok(), "the next screenshot restarts the browser");
    }

    #[tokio::test]
    async fn past_the_queue_a_request_is_refused_but_an_idle_browser_takes_it() {
        let mut screenshots = chromium();
        screenshots.config.queue = 0;
        let request = Request { message_id: "m", width: 320, view: None, dark: None };
        {
            let _rendering = screenshots.browser.lock().await;
            let refused = screenshots.take(&pages(), &request).await;
            assert!(matches!(refused, Err(ScreenshotError::Busy(0))), "{:?}", refused.err());
        }
        assert!(screenshots.take(&pages(), &request).await.is_ok(), "no queue is needed when it is idle");
    }

    #[test]
    fn a_place_in_the_queue_is_given_up_when_dropped() {
        let count = AtomicUsize::new(0);
        let first = Waiting::join(&count);
        let second = Waiting::join(&count);
        assert_eq!((first.ahead, second.ahead), (0, 1));
        drop(first);
        drop(second);
        assert_eq!(count.load(Ordering::SeqCst), 0);
    }
}
