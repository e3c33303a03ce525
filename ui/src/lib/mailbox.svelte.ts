// The message list as the UI sees it: the current inbox and search, the total that
// matches, and the rows loaded so far. Rows are fetched a page at a time, only
// where the user looks (the list is virtualized), so 100,000 messages cost one page.
//
// Live updates: a new message that surely belongs to the current view is put on top
// at once; when a search is active the engine decides what matches, so the view is
// refreshed (debounced) instead.
import * as api from './api';
import type { InboxInfo, MessageSummary } from '../api/types';

export const PAGE = 100;
/** The inbox of messages that named no SMTP AUTH user. */
const DEFAULT_INBOX = 'default';

export class Mailbox {
  inboxes = $state<InboxInfo[]>([]);
  /** The chosen inbox; `''` is All. */
  inbox = $state('');
  search = $state('');
  total = $state(0);
  unread = $state(0);
  /** Bumped whenever `rows` changes (the array itself is not reactive: it can be huge). */
  version = $state(0);
  loading = $state(false);
  error = $state('');
  rows: (MessageSummary | undefined)[] = [];
  /** Rows added on top since the view loaded: the list keeps its scroll position by them. */
  prepended = $state(0);

  #pages = new Map<number, Promise<void>>();
  #searching = false;
  #searchAgain = false;
  #generation = 0;
  /** Mail announced while `reload` waits for its page (see there). */
  #arrivedWhileLoading: MessageSummary[] = [];
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;

  /** The query sent to the engine: the inbox filter plus the user's search. */
  get query(): string {
    const inbox = this.inbox ? `inbox:"${this.inbox}"` : '';
    return [inbox, this.search.trim()].filter(Boolean).join(' ');
  }

  /** Load the view from scratch (new inbox or search). */
  async reload(): Promise<void> {
    const generation = ++this.#generation;
    this.#pages.clear();
    this.#arrivedWhileLoading = [];
    this.loading = true;
    try {
      const page = await api.listPage(this.query, 0, PAGE);
      if (generation !== this.#generation) return;
      this.rows = new Array(Number(page.messages_count ?? page.total));
      this.#fill(0, page.messages);
      this.#pages.set(0, Promise.resolve());
      this.total = this.rows.length;
      this.prepended = 0;
      this.error = '';
      // The page may predate mail that arrived while it was fetched: put that back
      // on top (what the page already has is skipped).
      for (const message of this.#arrivedWhileLoading) this.#prepend(message);
      this.#arrivedWhileLoading = [];
      this.version++;
    } catch (e) {
      if (generation === this.#generation) this.error = (e as Error).message;
    } finally {
      if (generation === this.#generation) this.loading = false;
    }
  }

  /**
   * The search text changed: results as you type. The first key stroke searches at
   * once; strokes that come while a search runs make one more search when it ends,
   * with the latest text, so a fast typist never queues a request per key.
   */
  async searchChanged(): Promise<void> {
    if (this.#searching) {
      this.#searchAgain = true;
      return;
    }
    this.#searching = true;
    try {
      do {
        this.#searchAgain = false;
        await this.reload();
      } while (this.#searchAgain);
    } finally {
      this.#searching = false;
    }
  }

  /** Make sure rows `from..to` are loaded (the visible window). */
  ensure(from: number, to: number): void {
    for (let page = Math.floor(from / PAGE); page * PAGE < Math.min(to, this.total); page++) {
      if (this.#pages.has(page)) continue;
      const generation = this.#generation;
      // Offsets move as messages arrive on top; `prepended` keeps page numbers stable.
      const offset = page * PAGE;
      const load = api.listPage(this.query, offset, PAGE).then(
        (result) => {
          if (generation !== this.#generation) return;
          this.#fill(offset, result.messages);
          this.version++;
        },
        (e: Error) => {
          this.#pages.delete(page);
          if (generation === this.#generation) this.error = e.message;
        },
      );
      this.#pages.set(page, load);
    }
  }

  #fill(offset: number, messages: MessageSummary[]): void {
    messages.forEach((m, i) => (this.rows[offset + i] = m));
  }

  async loadInboxes(): Promise<void> {
    try {
      this.inboxes = await api.inboxes();
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  /** A message arrived (WebSocket `new`). */
  added(message: MessageSummary): void {
    const inbox = message.Username || DEFAULT_INBOX;
    this.#bumpInbox(inbox, 1, message.Read ? 0 : 1);
    if (this.search.trim()) {
      this.refreshSoon();
      return;
    }
    if (this.inbox && this.inbox !== inbox) return;
    if (this.loading) this.#arrivedWhileLoading.push(message);
    this.#prepend(message);
  }

  /** Put `message` on top of the list, unless it is there already. */
  #prepend(message: MessageSummary): void {
    if (this.rows.some((row) => row?.ID === message.ID)) return;
    this.rows.unshift(message);
    // Keep loaded pages aligned: everything moved down by one.
    this.#pages.clear();
    for (let page = 0; page * PAGE < this.rows.length; page++) {
      const complete = this.rows.slice(page * PAGE, (page + 1) * PAGE).every((r) => r);
      if (complete) this.#pages.set(page, Promise.resolve());
    }
    this.total = this.rows.length;
    this.prepended++;
    this.version++;
  }

  /** A message's read flag changed (`update`). */
  updated(id: string, read: boolean): void {
    const row = this.rows.find((r) => r?.ID === id);
    if (row && row.Read !== read) {
      row.Read = read;
      this.#bumpInbox(row.Username || DEFAULT_INBOX, 0, read ? -1 : 1);
      this.version++;
    } else if (!row) {
      this.refreshInboxesSoon();
    }
  }

  /** A message's tags were set (`update` with `Tags`). */
  tagged(id: string, tags: string[]): void {
    const row = this.rows.find((r) => r?.ID === id);
    if (row) {
      row.Tags = tags;
      this.version++;
    }
  }

  /** A message was deleted (`delete`). */
  deleted(id: string): void {
    const index = this.rows.findIndex((r) => r?.ID === id);
    if (index < 0) {
      this.refreshInboxesSoon();
      return;
    }
    const [row] = this.rows.splice(index, 1);
    if (row) this.#bumpInbox(row.Username || DEFAULT_INBOX, -1, row.Read ? 0 : -1);
    // Pages after the gap are off by one now: reload them when seen.
    for (const page of [...this.#pages.keys()]) if ((page + 1) * PAGE > index) this.#pages.delete(page);
    this.total = this.rows.length;
    this.version++;
  }

  #bumpInbox(name: string, total: number, unread: number): void {
    const inbox = this.inboxes.find((i) => i.Name === name);
    if (!inbox) {
      this.refreshInboxesSoon();
      return;
    }
    inbox.Total = Number(inbox.Total) + total;
    inbox.Unread = Math.max(0, Number(inbox.Unread) + unread);
  }

  refreshSoon(): void {
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = setTimeout(() => {
      void this.reload();
      void this.loadInboxes();
    }, 250);
  }

  #inboxTimer: ReturnType<typeof setTimeout> | undefined;
  refreshInboxesSoon(): void {
    clearTimeout(this.#inboxTimer);
    this.#inboxTimer = setTimeout(() => void this.loadInboxes(), 250);
  }
}
