// The isolation hook: Tauri hands it every IPC call the window's page makes, and
// sends on (encrypted with a key the page never sees) only what it returns. It lets
// through the app's five commands (src-tauri/src/files.rs, settings.rs) with the
// arguments they take, and Tauri's own channel read (the export's progress); any
// other command, or a command with other arguments, is turned into a call of a
// command that does not exist, which Tauri refuses: the caller's promise rejects
// with "command … not found" and nothing of the app runs.

;(function () {
  'use strict'

  const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v)
  const isString = (v) => typeof v === 'string'
  const isId = (v) => isString(v) && v.length > 0 && v.length <= 200
  const optional = (check) => (v) => v === null || v === undefined || check(v)
  const isAddress = (v) => isString(v) && v.length <= 300
  const isCount = (v) => Number.isSafeInteger(v) && v >= 0
  const isChannel = (v) => isString(v) && /^__CHANNEL__:\d+$/.test(v)
  /** `args` has exactly these keys, each passing its check. */
  const shape = (checks) => (args) =>
    isObject(args) &&
    Object.keys(args).every((key) => key in checks) &&
    Object.entries(checks).every(([key, check]) => check(args[key]))
  const none = (args) => args === undefined || args === null || shape({})(args)

  const isSelection = (v) =>
    isObject(v) &&
    ((Object.keys(v).length === 1 && Array.isArray(v.ids) && v.ids.length <= 1_000_000 && v.ids.every(isId)) ||
      (Object.keys(v).length === 1 && isString(v.search) && v.search.length <= 10_000))

  const isSettings = shape({
    smtp: optional(isAddress),
    http: optional(isAddress),
    data: optional((v) => isString(v) && v.length <= 4096),
    maxMessages: optional(isCount),
    maxMegabytes: optional(isCount),
    notifications: (v) => typeof v === 'boolean',
  })

  /** Command name → its arguments' check. */
  const ALLOWED = {
    save_message: shape({ id: isId }),
    export_messages: shape({
      selection: isSelection,
      format: (v) => v === 'folder' || v === 'zip' || v === 'mbox',
      progress: isChannel,
    }),
    get_settings: none,
    save_settings: shape({ settings: isSettings, startAtLogin: (v) => typeof v === 'boolean' }),
    restart_app: none,
    // Tauri's own: reading a channel's queued messages (the export's progress).
    'plugin:__TAURI_CHANNEL__|fetch': () => true,
  }

  window.__TAURI_ISOLATION_HOOK__ = (payload) => {
    const check = Object.prototype.hasOwnProperty.call(ALLOWED, payload.cmd) ? ALLOWED[payload.cmd] : null
    if (check && check(payload.payload)) return payload
    console.warn(`isolation: refused ${String(payload.cmd)}`)
    return { ...payload, cmd: `refused-by-isolation:${String(payload.cmd).slice(0, 100)}`, payload: {} }
  }
})()
