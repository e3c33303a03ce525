//! `pigeonhole screenshot ID -o FILE`: a running engine's
//! `GET /api/v1/message/{ID}/screenshot.png`, written to FILE. The engine renders
//! it with its own browser (its `--browser`); exit codes as the other clients
//! ([`super::client`]): 0 written, 2 anything else.

use std::path::PathBuf;

use clap::Args;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::Failure;
use super::client::{Api, EXIT_ERROR, REQUEST_TIMEOUT, ServerArgs};

#[derive(Args, Debug)]
pub struct ScreenshotArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Message ID, or `latest` for the newest message.
    pub id: String,
    /// The window's width in CSS pixels, 200 to 2000 [server default: 600].
    #[arg(long)]
    pub width: Option<u32>,
    /// A mail client's view, as the preview offers (e.g. gmail, outlook) [default: as sent].
    #[arg(long)]
    pub view: Option<String>,
    /// A dark mode, as the preview offers [default: none].
    #[arg(long)]
    pub dark: Option<String>,
    /// Where to write the PNG (an existing file is replaced).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

pub fn run(args: ScreenshotArgs) -> Result<(), Failure> {
    let api = Api::new(&args.server, REQUEST_TIMEOUT)?;
    let width = args.width.map(|width| width.to_string());
    let params: Vec<(&str, &str)> =
        [("width", width.as_deref()), ("view", args.view.as_deref()), ("dark", args.dark.as_deref())]
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
            .collect();
    let id = utf8_percent_encode(&args.id, NON_ALPHANUMERIC).to_string();
    let path = format!("/api/v1/message/{id}/screenshot.png");
    let what = format!("GET {path}");
    let response = api.send(api.client.get(api.url(&path, &params)), &what)?;
    let png = api.ok_body(response, &what)?;
    std::fs::write(&args.output, png).map_err(|err| {
        Failure::new(
            EXIT_ERROR,
            format!(
                "cannot write the screenshot to {}: {err} (is the folder there and writable?)",
                args.output.display()
            ),
        )
    })
}
