//! How the window draws: on the CPU unless the user asks for the GPU.
//!
//! The window shows a message list and a preview; it has no animation or 3D that a
//! GPU would speed up. Yet on Linux, GTK and WebKitGTK set up OpenGL as they start:
//! GDK probes GLX when it opens the display, and WebKit opens an EGL display to find
//! a DRM render node for its DMA-BUF renderer and compositor. With Mesa that loads
//! the driver and LLVM into the app process (about 50 MB of its resident memory,
//! measured by `scripts/bench-desktop.py`), and GPU compositing roughly doubles the
//! web content process. So, before GTK starts, [`prefer_cpu`] sets the documented
//! GDK and WebKit variables that keep both on the CPU path, each only where the user
//! has not set it. `PIGEONHOLE_GPU=1` leaves GTK's and WebKit's defaults alone.

/// The variables, and the values that keep GL out of both processes.
const CPU_RENDERING: &[(&str, &str)] = &[
    // GDK: no GLX probe when the display opens (the app has no GL widget).
    ("GDK_GL", "disable"),
    // WebKit: the shared-memory renderer instead of DMA-BUF buffers from the GPU.
    ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
    // WebKit: paint pages on the CPU (Skia), with no GL compositor in the web process.
    ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
    // WebKit: no EGL display opened to look for a render node, which compositing
    // (now off) would have used; naming one skips the search.
    ("WEBKIT_WEB_RENDER_DEVICE_FILE", "/dev/null"),
];

/// Keep GTK and WebKit off the GPU unless `PIGEONHOLE_GPU=1` or the user set the
/// variables. Call it first thing in `main`, while the process has one thread.
pub fn prefer_cpu() {
    if std::env::var_os("PIGEONHOLE_GPU").is_some_and(|value| value == "1") {
        return;
    }
    for (name, value) in CPU_RENDERING {
        if std::env::var_os(name).is_none() {
            // SAFETY: called from `main` before any other thread exists, so nothing
            // reads the environment while it changes.
            unsafe { std::env::set_var(name, value) };
        }
    }
}
