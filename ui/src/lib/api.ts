// The engine's REST API, as the UI uses it. Every call goes through `request`, which
// turns any failure into an `ApiError` whose message a person can act on.
import type {
  CheckReport,
  CodesView,
  DiffReport,
  Envelope,
  HTMLCheckResponse,
  ViewNotes,
  ImportResponse,
  InboxInfo,
  IntakeView,
  LinksView,
  MessagePage,
  MessageView,
  PartNode,
  RulesInfo,
  SendResponse,
  SpamAssassinResponse,
  StorageView,
  WebUiConfiguration,
  Delivery,
  WebhooksView,
} from '../api/types';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function request(path: string, init?: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError('Cannot reach the Pigeonhole engine. Is it still running? Start it again, then reload.', 0);
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).Error ?? detail;
    } catch {
      // not JSON: keep the status text
    }
    if (response.status === 404 && /not found/i.test(detail)) {
      throw new ApiError('This message no longer exists: it was deleted meanwhile.', 404);
    }
    throw new ApiError(`${detail} (HTTP ${response.status})`, response.status);
  }
  return response;
}

async function json<T>(path: string, init?: RequestInit): Promise<T> {
  return (await request(path, init)).json() as Promise<T>;
}

function send(method: string, path: string, body: unknown): Promise<Response> {
  return request(path, { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

const enc = encodeURIComponent;

/** A page of the list: newest first. `query` empty means every message. */
export function listPage(query: string, start: number, limit: number): Promise<MessagePage> {
  return query.trim()
    ? json(`/api/v1/search?query=${enc(query)}&start=${start}&limit=${limit}`)
    : json(`/api/v1/messages?start=${start}&limit=${limit}`);
}

export const inboxes = () => json<InboxInfo[]>('/api/v1/inboxes');
/** The full message; the engine marks it read. */
export const message = (id: string) => json<MessageView>(`/api/v1/message/${enc(id)}`);
export const envelope = (id: string) => json<Envelope>(`/api/v1/message/${enc(id)}/envelope`);
export const parts = (id: string) => json<PartNode>(`/api/v1/message/${enc(id)}/parts`);
export const raw = async (id: string) => (await request(`/api/v1/message/${enc(id)}/raw`)).text();
export const links = (id: string) => json<LinksView>(`/api/v1/message/${enc(id)}/links`);
export const codes = (id: string) => json<CodesView>(`/api/v1/message/${enc(id)}/codes`);
/** The check report; `links` also checks every link's status (network, slow). */
export const checks = (id: string, links = false) =>
  json<CheckReport>(`/api/v1/message/${enc(id)}/checks${links ? '?links=true' : ''}`);
/** Which mail clients support the HTML and CSS the message uses (it must have HTML). */
export const htmlCheck = (id: string) => json<HTMLCheckResponse>(`/api/v1/message/${enc(id)}/html-check`);
/** SpamAssassin's score and rules (only when the engine runs with it enabled). */
export const spamCheck = (id: string) => json<SpamAssassinResponse>(`/api/v1/message/${enc(id)}/sa-check`);
/** What the engine offers the UI (SpamAssassin enabled, …). */
export const webui = () => json<WebUiConfiguration>('/api/v1/webui');

/** What changed from message `a` to message `b` (IDs); `volatile` compares Date, Message-ID … too. */
export const diff = (a: string, b: string, volatile = false) =>
  json<DiffReport>(`/api/v1/diff?a=${enc(a)}&b=${enc(b)}${volatile ? '&volatile=true' : ''}`);

/** The report with the two messages' screenshots compared pixel by pixel (its `Visual` section). */
export const visualDiff = (a: string, b: string, { width, view, dark }: ScreenshotParams) => {
  const params = new URLSearchParams({ a, b, visual: '1', width: String(width) });
  if (view) params.set('view', view);
  if (dark) params.set('dark', dark);
  return json<DiffReport>(`/api/v1/diff?${params}`);
};

/**
 * What changed from stored message `a` to an .eml file (nothing is stored); `visual`
 * compares their screenshots too (the engine renders the file from its bytes).
 */
export async function diffFile(a: string, file: File, volatile = false, visual?: ScreenshotParams): Promise<DiffReport> {
  const params = new URLSearchParams({ a, name: file.name });
  if (volatile) params.set('volatile', 'true');
  if (visual) {
    params.set('visual', '1');
    params.set('width', String(visual.width));
    if (visual.view) params.set('view', visual.view);
    if (visual.dark) params.set('dark', visual.dark);
  }
  const response = await request(`/api/v1/diff?${params}`, {
    method: 'POST',
    headers: { 'Content-Type': 'message/rfc822' },
    body: file,
  });
  return (await response.json()) as DiffReport;
}

export const rawUrl = (id: string) => `/api/v1/message/${enc(id)}/raw`;
export const downloadUrl = (id: string) => `/api/v1/message/${enc(id)}/raw?dl=1`;
export const partUrl = (id: string, part: string) => `/api/v1/message/${enc(id)}/part/${enc(part)}`;
/**
 * The sanitized HTML preview (`embed=1`: without it the engine answers the HTML part
 * as sent, as Mailpit does); `remote` lets remote content load; `view` renders it as
 * a mail client family (`as-sent`, `gmail`, …) and `dark` in a dark mode (`none`,
 * `partial`, `full`, `prefers`). `highlight` (a CSS selector) has the engine mark that
 * element; the URL then ends in the mark's fragment, so the frame opens scrolled to it.
 */
export function htmlUrl(id: string, remote = false, dark = 'none', highlight = '', view = 'as-sent'): string {
  const params = new URLSearchParams({ embed: '1' });
  if (remote) params.set('remote', '1');
  if (view !== 'as-sent') params.set('view', view);
  if (dark !== 'none') params.set('dark', dark);
  if (highlight) params.set('highlight', highlight);
  return `/view/${enc(id)}.html?${params}${highlight ? `#${HIGHLIGHT_ID}` : ''}`;
}

/** What a client view takes out of the message (caniemail's data, approximated). */
export const viewNotes = (id: string, view: string) =>
  json<ViewNotes>(`/api/v1/message/${enc(id)}/view-notes?view=${enc(view)}`);
/** What a screenshot is taken as: the window's width, and the preview's `view` and
 * `dark` as the view route takes them (passed on unchanged; left out when unset). */
export interface ScreenshotParams {
  width: number;
  view?: string;
  dark?: string;
}

/** A PNG of the HTML preview, rendered by the engine's headless browser. */
export function screenshotUrl(id: string, { width, view, dark }: ScreenshotParams): string {
  const params = new URLSearchParams({ width: String(width) });
  if (view) params.set('view', view);
  if (dark) params.set('dark', dark);
  return `/api/v1/message/${enc(id)}/screenshot.png?${params}`;
}

/** The `id` the engine gives the element `?highlight=` names. */
export const HIGHLIGHT_ID = 'pigeonhole-highlight';

/** How many remote resources the HTML preview blocked (read from a HEAD request). */
export async function remoteCount(id: string): Promise<number> {
  const response = await request(htmlUrl(id), { method: 'HEAD' });
  return Number(response.headers.get('X-Pigeonhole-Remote-Content') ?? 0);
}

export const intake = () => json<IntakeView>('/api/v1/intake');

/** The data folder, and whether its disk is full (SMTP answers 452 meanwhile). */
export const storage = () => json<StorageView>('/api/v1/storage');

/** Pause SMTP intake (it answers 421) or resume it. */
export async function setIntakePaused(paused: boolean): Promise<void> {
  await send('PUT', '/api/v1/intake', { Paused: paused });
}

/** The delivery simulation's rules file and the simulator addresses. */
export const rules = () => json<RulesInfo>('/api/v1/rules');

/** Put new simulation rules in force; an invalid text is refused (the error names the line). */
export async function setRules(text: string): Promise<RulesInfo> {
  return (await send('PUT', '/api/v1/rules', { Rules: text })).json();
}

export async function setRead(ids: string[], read: boolean): Promise<void> {
  await send('PUT', '/api/v1/messages', { IDs: ids, Read: read });
}

export async function remove(ids: string[]): Promise<void> {
  await send('DELETE', '/api/v1/messages', { IDs: ids });
}

/** Download the messages as one mbox file. */
export async function exportMbox(selection: { IDs: string[] } | { Search: string }): Promise<Blob> {
  return (await send('POST', '/api/v1/export', selection)).blob();
}

/** Send a test message to ourselves through the send API. */
export async function sendTest(): Promise<string> {
  const response = await send('POST', '/api/v1/send', {
    From: { Email: 'pigeonhole@localhost', Name: 'Pigeonhole' },
    To: [{ Email: 'you@localhost', Name: 'You' }],
    Subject: 'Test message from Pigeonhole',
    Text: 'It works! This message was sent from the Pigeonhole UI.\n\nYour code: 482913',
    HTML:
      '<div style="font-family:sans-serif"><h1 style="color:#2f6fed">It works!</h1>' +
      '<p>This message was sent from the Pigeonhole UI.</p><p>Your code: <b>482913</b></p></div>',
  });
  return ((await response.json()) as SendResponse).ID;
}

/**
 * Store the messages of a mail file (one .eml message, or an mbox of many); their
 * IDs, in the file's order. The engine reads the file's first line to tell the two
 * apart; the type sent says it is a mail file (the engine refuses any other).
 */
export async function importFile(file: File): Promise<string[]> {
  const mbox = /\.(mbox|mbx)$/i.test(file.name) || (await file.slice(0, 5).text()) === 'From ';
  const response = await request('/api/v1/import', {
    method: 'POST',
    headers: { 'Content-Type': mbox ? 'application/mbox' : 'message/rfc822' },
    body: file,
  });
  return ((await response.json()) as ImportResponse).IDs;
}

/** Where each provider's events and new messages go, the keys apps verify them with, the retries. */
export const webhooks = () => json<WebhooksView>('/api/v1/webhooks');

/** Change the listed providers' endpoints; the settings now in force. */
export async function setWebhooks(view: WebhooksView): Promise<WebhooksView> {
  return (await send('PUT', '/api/v1/webhooks', view)).json() as Promise<WebhooksView>;
}

/** One message's webhook deliveries, newest first. */
export const webhookLog = (id: string) => json<Delivery[]>(`/api/v1/webhooks/log?message=${enc(id)}`);

/** One message webhook's deliveries, newest first. */
export const messageWebhookLog = (webhook: string) =>
  json<Delivery[]>(`/api/v1/webhooks/log?webhook=${enc(webhook)}`);

/** A provider event the engine posts on request. */
export type ProviderEvent = 'open' | 'click' | 'bounce' | 'deferral' | 'complaint';

/** Have the provider post this event for a message sent through its API (`url`: the link a click followed). */
export async function sendProviderEvent(id: string, event: ProviderEvent, url = ''): Promise<void> {
  await send('POST', `/api/v1/message/${enc(id)}/events`, event === 'click' ? { Event: event, URL: url } : { Event: event });
}
