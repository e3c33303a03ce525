//! One screenshot in a running browser: a fresh browser context (no cookies, cache
//! or storage from any other), one tab with script off, every request it makes
//! paused (CDP's Fetch domain) and answered from the engine's own router or failed,
//! the page laid out at the asked width, measured, and captured whole up to the
//! height cap.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use tokio::sync::watch;
use tower::ServiceExt as _;

use super::browser::Browser;
use super::cdp::{CdpError, Event};

/// The origin the page is loaded from. Nothing resolves it: every request to it is
/// answered in-process, and requests to anywhere else fail.
pub const ORIGIN: &str = "http://pigeonhole.invalid";

/// What to render.
pub struct Page<'a> {
    /// The page's path and query (`/view/{ID}.html?embed=1…`).
    pub path: &'a str,
    /// Its answer, already fetched: status, headers and body.
    pub document: &'a Answer,
    /// Other paths the page may load (a path starting with this prefix), answered by `router`.
    pub subresources: &'a str,
    pub router: &'a Router,
    pub width: u32,
    pub max_height: u32,
}

/// An HTTP answer as the browser gets it.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// `GET path` on `router`, in-process.
    pub async fn get(router: &Router, path: &str) -> Answer {
        let request = Request::get(path).body(Body::empty()).expect("a path and query make a request");
        let Ok(response) = router.clone().oneshot(request).await;
        let status = response.status();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
            .collect();
        // The API's answers are bounded by the store's own limits (the largest
        // message it takes), so they are read whole.
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.map(|b| b.to_vec()).unwrap_or_default();
        Answer { status, headers, body }
    }
}

/// A captured page: the PNG, its height, and how tall the page was (taller than
/// the PNG when it was cut at the cap).
pub struct Capture {
    pub png: Vec<u8>,
    pub height: u32,
    pub page_height: u32,
}

/// Render `page` in `browser`; the context it made is closed again whatever happens,
/// unless the browser itself failed.
pub async fn capture(browser: &mut Browser, page: &Page<'_>) -> Result<Capture, CdpError> {
    let (cdp, events) = (&browser.cdp, &mut browser.events);
    let context = cdp.call(None, "Target.createBrowserContext", json!({ "disposeOnDetach": true })).await?;
    let context = context["browserContextId"].clone();
    let (loaded_tx, mut loaded) = watch::channel(false);
    let session = std::sync::OnceLock::<String>::new();
    let flow = async {
        let target =
            cdp.call(None, "Target.createTarget", json!({ "url": "about:blank", "browserContextId": context })).await?;
        let attached =
            cdp.call(None, "Target.attachToTarget", json!({ "targetId": target["targetId"], "flatten": true })).await?;
        let id = session.get_or_init(|| attached["sessionId"].as_str().unwrap_or_default().to_string());
        let call = |method: &'static str, params: Value| cdp.call(Some(id), method, params);
        call("Emulation.setScriptExecutionDisabled", json!({ "value": true })).await?;
        // One pixel tall at first, so that the page's height is its content's, not
        // a window's.
        call("Emulation.setDeviceMetricsOverride", viewport(page.width, 1)).await?;
        call("Fetch.enable", json!({ "patterns": [{ "urlPattern": "*" }] })).await?;
        call("Page.enable", json!({})).await?;
        let navigated = call("Page.navigate", json!({ "url": format!("{ORIGIN}{}", page.path) })).await?;
        if let Some(error) = navigated["errorText"].as_str() {
            return Err(CdpError::Command { method: "Page.navigate".into(), message: error.to_string() });
        }
        loaded.wait_for(|&loaded| loaded).await.map_err(|_| CdpError::Closed)?;
        let metrics = call("Page.getLayoutMetrics", json!({})).await?;
        let content_height = metrics["cssContentSize"]["height"].as_f64().unwrap_or(1.0).ceil();
        let page_height = content_height.clamp(1.0, f64::from(u32::MAX)) as u32;
        let height = page_height.min(page.max_height);
        call("Emulation.setDeviceMetricsOverride", viewport(page.width, height)).await?;
        let clip = json!({ "x": 0, "y": 0, "width": page.width, "height": height, "scale": 1 });
        let shot = call("Page.captureScreenshot", json!({ "format": "png", "clip": clip })).await?;
        let png = BASE64.decode(shot["data"].as_str().unwrap_or_default()).map_err(|err| CdpError::Command {
            method: "Page.captureScreenshot".into(),
            message: format!("not base64: {err}"),
        })?;
        Ok(Capture { png, height, page_height })
    };
    // Requests are answered while the steps above wait (navigation waits for the
    // document's answer); the pump only ends when the browser does.
    let pump = async {
        while let Some(event) = events.recv().await {
            let ours = session.get().is_some_and(|id| event.session.as_deref() == Some(id));
            if !ours {
                continue;
            }
            match event.method.as_str() {
                // A request the page gave up on cannot be answered; only a
                // closed browser ends the render.
                "Fetch.requestPaused" => {
                    if let Err(CdpError::Closed) = answer(cdp, page, &event).await {
                        break;
                    }
                }
                "Page.loadEventFired" => {
                    let _ = loaded_tx.send(true);
                }
                _ => {}
            }
        }
        Err::<Capture, _>(CdpError::Closed)
    };
    let captured = tokio::select! {
        captured = flow => captured,
        closed = pump => closed,
    };
    if !matches!(captured, Err(CdpError::Closed)) {
        cdp.call(None, "Target.disposeBrowserContext", json!({ "browserContextId": context })).await?;
    }
    captured
}

/// The emulated window: `width` × `height` CSS pixels at one device pixel each.
fn viewport(width: u32, height: u32) -> Value {
    json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false })
}

/// Answer one paused request: the document, or a path under `page.subresources`
/// from the router; anything else fails as blocked, before it reaches any network.
async fn answer(cdp: &super::cdp::Connection, page: &Page<'_>, event: &Event) -> Result<(), CdpError> {
    let request_id = &event.params["requestId"];
    let url = event.params["request"]["url"].as_str().unwrap_or_default();
    let path = url.strip_prefix(ORIGIN).filter(|path| path.starts_with('/'));
    let fetched;
    let answer = match path {
        Some(path) if path == page.path => Some(page.document),
        Some(path) if path.starts_with(page.subresources) && !path.contains("/..") => {
            fetched = Answer::get(page.router, path).await;
            Some(&fetched)
        }
        _ => None,
    };
    match answer {
        Some(answer) => {
            let headers: Vec<Value> =
                answer.headers.iter().map(|(name, value)| json!({ "name": name, "value": value })).collect();
            let params = json!({
                "requestId": request_id,
                "responseCode": answer.status.as_u16(),
                "responseHeaders": headers,
                "body": BASE64.encode(&answer.body),
            });
            cdp.call(event.session.as_deref(), "Fetch.fulfillRequest", params).await?;
        }
        None => {
            let params = json!({ "requestId": request_id, "errorReason": "BlockedByClient" });
            cdp.call(event.session.as_deref(), "Fetch.failRequest", params).await?;
        }
    }
    Ok(())
}
