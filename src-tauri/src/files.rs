//! Mail files in and out of the app: "Save as .eml" for one message and "Export…"
//! of a selection or a search result as a folder of `.eml` files, a `.zip` or an
//! mbox, each through a native dialog; and `.eml`/mbox files opened with the app
//! (a file manager's "Open with", `pigeonhole-desktop file.eml`), imported and shown.
//! The UI's own Import… and drag and drop go through the engine's HTTP API.
//!
//! These are the only Tauri commands the UI page can call (the capability in
//! `capabilities/default.json` names them). The page asks; the user picks the place
//! in a native dialog; the engine's [`pigeonhole::archive`] writes the files. The
//! page never names a path, so it cannot make the app write anywhere the user did
//! not choose; a message ID must look like one before it is looked up.

use std::path::PathBuf;

use pigeonhole::Store;
use pigeonhole::archive::{self, Format};
use pigeonhole::model::MessageId;
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, WebviewWindow};
use tauri_plugin_dialog::{DialogExt, FileDialogBuilder, FilePath, MessageDialogKind};
use tokio::sync::oneshot;

/// Which messages to export.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Selection {
    /// These, in this order.
    Ids(Vec<String>),
    /// Every match of this search, oldest first.
    Search(String),
}

/// What an export wrote.
#[derive(Debug, Serialize)]
pub struct Exported {
    count: usize,
    path: String,
}

/// Most messages one export by IDs takes (a selection in the UI); a bigger set
/// is exported as a search.
const MAX_IDS: usize = 100_000;

/// Save message `id` where the user picks; the chosen path, or `None` if the user
/// cancelled.
#[tauri::command]
pub async fn save_message(app: AppHandle, window: WebviewWindow, id: String) -> Result<Option<String>, String> {
    let store = engine_store(&app)?;
    let id = parse_id(&id)?;
    let summary = store.summary(&id).map_err(|err| err.to_string())?.ok_or_else(gone)?;
    let dialog = dialog(&window)
        .set_title("Save message as .eml")
        .set_file_name(archive::eml_file_name(&summary))
        .add_filter("E-mail message", &["eml"]);
    let Some(path) = save_dialog(dialog).await else { return Ok(None) };
    let written = path.clone();
    blocking(move || archive::write_eml(&store, &id, &written).map_err(|err| err.to_string())).await?;
    tracing::info!("saved message to {}", path.display());
    Ok(Some(path.display().to_string()))
}

/// Export `selection` as `format` where the user picks, telling `progress` each
/// `(done, total)`; `None` if the user cancelled.
#[tauri::command]
pub async fn export_messages(
    app: AppHandle,
    window: WebviewWindow,
    selection: Selection,
    format: Format,
    progress: Channel<(usize, usize)>,
) -> Result<Option<Exported>, String> {
    let store = engine_store(&app)?;
    let ids = match selection {
        Selection::Ids(ids) if ids.len() > MAX_IDS => return Err(format!("at most {MAX_IDS} messages by ID")),
        Selection::Ids(ids) => ids.iter().map(|id| parse_id(id)).collect::<Result<_, _>>()?,
        Selection::Search(query) => {
            let search = store.clone();
            blocking(move || archive::matching(&search, query.as_str()).map_err(|err| err.to_string())).await?
        }
    };
    if ids.is_empty() {
        return Err("nothing to export: no message is selected or matches".into());
    }
    let count = ids.len();
    let name =
        |extension: &str| format!("pigeonhole-{count}-{}.{extension}", if count == 1 { "message" } else { "messages" });
    let dialog = dialog(&window);
    let dest = match format {
        Format::Folder => folder_dialog(dialog.set_title("Export to a folder")).await,
        Format::Zip => {
            save_dialog(
                dialog.set_title("Export as .zip").set_file_name(name("zip")).add_filter("Zip archive", &["zip"]),
            )
            .await
        }
        Format::Mbox => {
            save_dialog(dialog.set_title("Export as mbox").set_file_name(name("mbox")).add_filter("mbox", &["mbox"]))
                .await
        }
    };
    let Some(dest) = dest else { return Ok(None) };
    let path = dest.display().to_string();
    let count = blocking(move || {
        // A message a time would flood the page on a big export: a hundred updates do.
        let step = (count / 100).max(1);
        archive::write(&store, &ids, format, &dest, |done, total| {
            if done % step == 0 || done == total {
                let _ = progress.send((done, total));
            }
        })
        .map_err(|err| err.to_string())
    })
    .await?;
    tracing::info!("exported {count} messages to {path}");
    Ok(Some(Exported { count, path }))
}

/// Import the mail files among `args` (a launch's arguments: other arguments are
/// not files and are ignored; relative paths are from `cwd`), then show the last
/// message imported, or say which files could not be opened and why.
pub fn open_files(app: &AppHandle, args: impl IntoIterator<Item = PathBuf>, cwd: &std::path::Path) {
    let paths: Vec<PathBuf> = args.into_iter().map(|arg| cwd.join(arg)).filter(|path| path.is_file()).collect();
    let (Some(store), false) = (crate::store(app), paths.is_empty()) else { return };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let (mut last, mut problems) = (None, Vec::new());
        for path in paths {
            match import_file(&store, &path).await {
                Ok(ids) => last = ids.last().cloned().or(last),
                Err(err) => problems.push(format!("{}: {err}", path.display())),
            }
        }
        crate::notify::open_window_on(&app, last.as_ref().map(MessageId::as_str));
        if !problems.is_empty() {
            app.dialog()
                .message(problems.join("\n\n"))
                .title("Cannot open these files")
                .kind(MessageDialogKind::Error)
                .show(|_| {});
        }
    });
}

/// Store every message in the mail file at `path`; their IDs, in the file's order.
async fn import_file(store: &Store, path: &std::path::Path) -> Result<Vec<MessageId>, String> {
    let bytes = tokio::fs::read(path).await.map_err(|err| format!("cannot read it ({err})"))?;
    let ids = archive::store_all(store, &bytes).await.map_err(|err| err.to_string())?;
    tracing::info!("opened {}: {} messages", path.display(), ids.len());
    Ok(ids)
}

fn engine_store(app: &AppHandle) -> Result<Store, String> {
    crate::store(app).ok_or_else(|| "Pigeonhole is shutting down".to_string())
}

fn parse_id(id: &str) -> Result<MessageId, String> {
    MessageId::parse(id).ok_or_else(|| format!("{id:?} is not a message ID"))
}

fn gone() -> String {
    "This message no longer exists (deleted, or removed by retention).".into()
}

/// A file dialog in front of `window`, so it is modal to it.
fn dialog<R: Runtime>(window: &WebviewWindow<R>) -> FileDialogBuilder<R> {
    window.dialog().file().set_parent(window)
}

/// The path the user picks in a save dialog; `None` if they cancel.
async fn save_dialog<R: Runtime>(dialog: FileDialogBuilder<R>) -> Option<PathBuf> {
    chosen_path(|answer| dialog.save_file(answer)).await
}

/// The folder the user picks; `None` if they cancel.
async fn folder_dialog<R: Runtime>(dialog: FileDialogBuilder<R>) -> Option<PathBuf> {
    chosen_path(|answer| dialog.pick_folder(answer)).await
}

/// Await the answer of a dialog that reports it through a callback.
async fn chosen_path(show: impl FnOnce(Box<dyn FnOnce(Option<FilePath>) + Send>)) -> Option<PathBuf> {
    let (chosen, answer) = oneshot::channel();
    show(Box::new(move |path| {
        let _ = chosen.send(path);
    }));
    answer.await.ok().flatten().and_then(|path| path.into_path().ok())
}

/// Run file and store work off the async runtime's threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, String> {
    tauri::async_runtime::spawn_blocking(work).await.map_err(|err| err.to_string())?
}
