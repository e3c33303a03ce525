//! The headless browser process: which executable ([`find`]), started with no
//! network and a throwaway profile ([`Browser::launch`]), and killed with every
//! process it started when dropped.

use std::io::{PipeReader, PipeWriter};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::sync::mpsc;

use super::cdp::{Connection, Event};

/// Executables tried on `PATH`, in order, when no browser is configured.
const ON_PATH: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

/// No browser to start.
#[derive(Debug, thiserror::Error)]
pub enum NotFound {
    #[error(
        "no browser to take screenshots with: none of chromium, chromium-browser or google-chrome is on PATH. \
         Install Chromium (`apt install chromium`), or point --browser (PIGEONHOLE_BROWSER) at a Chromium or \
         Chrome executable"
    )]
    NotOnPath,
    #[error(
        "the browser set by --browser (PIGEONHOLE_BROWSER), {0}, is not an executable file. Point it at a \
         Chromium or Chrome executable (`apt install chromium` installs /usr/bin/chromium), or unset it to use \
         the one on PATH"
    )]
    Missing(PathBuf),
}

/// The browser to start: `configured` if given (it must be a file), else the first
/// of [`ON_PATH`] found on `PATH`.
pub fn find(configured: Option<&Path>) -> Result<PathBuf, NotFound> {
    if let Some(path) = configured {
        return if path.is_file() { Ok(path.to_path_buf()) } else { Err(NotFound::Missing(path.to_path_buf())) };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    ON_PATH
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .ok_or(NotFound::NotOnPath)
}

/// A running headless browser and its DevTools connection.
pub struct Browser {
    child: tokio::process::Child,
    pub cdp: Connection,
    pub events: mpsc::UnboundedReceiver<Event>,
    /// The profile folder, removed when the browser is dropped.
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Start `executable` headless, in a profile folder of its own, its DevTools on
    /// a pipe. It has no network: every name resolves to nothing and every request
    /// would go to a proxy at such a name (loopback included); the page's requests
    /// are answered in-process anyway (see [`super::page`]).
    pub fn launch(executable: &Path) -> std::io::Result<Browser> {
        let profile = tempfile::Builder::new().prefix("pigeonhole-browser-").tempdir()?;
        let (browser_reads, we_write) = std::io::pipe()?;
        let (we_read, browser_writes) = std::io::pipe()?;
        let mut command = tokio::process::Command::new(executable);
        command
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(FLAGS)
            .args(sandbox_flags())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that dropping it kills its renderers too.
            .process_group(0)
            .kill_on_drop(true);
        pipes_at_3_and_4(&mut command, &browser_reads, &browser_writes);
        let child = command.spawn()?;
        // The browser's ends are its own now; ours would keep the pipes open past it.
        drop((browser_reads, browser_writes));
        let (cdp, events) = Connection::start(OwnedFd::from(we_write), OwnedFd::from(we_read))?;
        Ok(Browser { child, cdp, events, _profile: profile })
    }

    /// The process's ID, while it runs.
    #[cfg(test)]
    pub fn pid(&self) -> Option<i32> {
        self.child.id().and_then(|pid| i32::try_from(pid).ok())
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id().and_then(|pid| i32::try_from(pid).ok()) {
            // SAFETY: kill(2) only sends a signal; the group is the one the browser
            // leads (process_group(0)), so nothing else is signalled.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

/// The browser's flags besides its profile and sandbox.
const FLAGS: &[&str] = &[
    "--headless",
    "--remote-debugging-pipe",
    // No network: names resolve to nothing, and everything (loopback too, which
    // Chromium would otherwise reach directly) goes through a proxy that cannot be
    // resolved. The page's own requests never get that far: they are intercepted.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://no-network.invalid:9",
    "--proxy-bypass-list=<-loopback>",
    // No script, whatever the page says (each page also turns it off).
    "--blink-settings=scriptEnabled=false",
    // Nothing of its own reaching out, nothing kept.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    // Screenshots: no scroll bars in the picture, colours as written.
    "--hide-scrollbars",
    "--force-color-profile=srgb",
    "--disable-gpu",
    // Containers often have a small /dev/shm.
    "--disable-dev-shm-usage",
];

/// Chromium refuses to run as root with its sandbox on; only then it goes.
fn sandbox_flags() -> &'static [&'static str] {
    let root = std::fs::metadata("/proc/self").is_ok_and(|process| process.uid() == 0);
    if root { &["--no-sandbox"] } else { &[] }
}

/// Give the child `reads` as fd 3 and `writes` as fd 4, where Chromium's
/// `--remote-debugging-pipe` looks for them.
fn pipes_at_3_and_4(command: &mut tokio::process::Command, reads: &PipeReader, writes: &PipeWriter) {
    let (reads, writes) = (reads.as_raw_fd(), writes.as_raw_fd());
    // SAFETY: between fork and exec only async-signal-safe calls (fcntl, dup2,
    // close) on fds this process owns. Copies above 10 first, so that neither
    // dup2 overwrites the other's source; dup2 leaves 3 and 4 open across exec.
    unsafe {
        command.pre_exec(move || {
            let reads = libc::fcntl(reads, libc::F_DUPFD, 10);
            let writes = libc::fcntl(writes, libc::F_DUPFD, 10);
            if reads < 0 || writes < 0 || libc::dup2(reads, 3) < 0 || libc::dup2(writes, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(reads);
            libc::close(writes);
            Ok(())
        });
    }
}
