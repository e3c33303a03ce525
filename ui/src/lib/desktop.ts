// The desktop app's native side, for the UI when it runs in Pigeonhole's window:
// native save and export dialogs that write where the user picks. In a browser
// `inDesktop` is false and the UI downloads through the engine's HTTP API instead.
//
// These calls reach the app's Tauri commands (src-tauri/src/files.rs); the window's
// capability (capabilities/default.json) grants exactly these to this page and to
// nothing else on the engine's origin, such as a message preview.
import { Channel, invoke, isTauri } from '@tauri-apps/api/core';

export const inDesktop = isTauri();

/** Which messages: these IDs in this order, or every match of a search (oldest first). */
export type Selection = { ids: string[] } | { search: string };
export type ExportFormat = 'folder' | 'zip' | 'mbox';
export type Exported = { count: number; path: string };

/** Save one message as .eml through the save dialog; `null` when cancelled. */
export function saveMessage(id: string): Promise<string | null> {
  return invoke<string | null>('save_message', { id });
}

/**
 * Export messages through a folder or save dialog; `progress` hears (done, total)
 * while it runs. `null` when the user cancelled the dialog.
 */
export function exportMessages(
  selection: Selection,
  format: ExportFormat,
  progress: (done: number, total: number) => void,
): Promise<Exported | null> {
  const channel = new Channel<[number, number]>();
  channel.onmessage = ([done, total]) => progress(done, total);
  return invoke<Exported | null>('export_messages', { selection, format, progress: channel });
}

/** The app's settings (src-tauri/src/settings.rs `Settings`); `null` keeps the default. */
export type Settings = {
  smtp: string | null;
  http: string | null;
  data: string | null;
  maxMessages: number | null;
  maxMegabytes: number | null;
  notifications: boolean;
};

export type SettingsView = {
  settings: Settings;
  /** Where the running engine listens and keeps its mail. */
  running: { smtp: string; http: string; data: string };
  /** Settings a `PIGEONHOLE_*` variable overrides: [setting, variable]. */
  overridden: [keyof Settings, string][];
  startAtLogin: boolean;
  file: string;
  version: string;
};

export function getSettings(): Promise<SettingsView> {
  return invoke<SettingsView>('get_settings');
}

/** Save; resolves to whether a restart is needed for everything to take effect. */
export function saveSettings(settings: Settings, startAtLogin: boolean): Promise<boolean> {
  return invoke<boolean>('save_settings', { settings, startAtLogin });
}

/** Restart the app (a clean engine shutdown first) on the saved settings. */
export function restartApp(): Promise<void> {
  return invoke<void>('restart_app');
}
