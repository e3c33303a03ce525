// Small text helpers the list and the message pane share: sizes, times, and the
// free-text words of a search (to highlight them).

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

const timeOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayAndMonth = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** Today's messages show the time, older ones the date (the full stamp is the title). */
export function shortTime(iso: string): string {
  const date = new Date(iso);
  return date.toDateString() === new Date().toDateString() ? timeOnly.format(date) : dayAndMonth.format(date);
}

export const longTime = (iso: string) => full.format(new Date(iso));

/**
 * The free-text words of a search in the API's syntax: `field:value` filters and
 * `is:`/`has:` flags are left out, quotes dropped, a leading `-` (negation) skipped.
 */
export function searchWords(search: string): string[] {
  const words: string[] = [];
  // A filter's value may be quoted (`tag:"big deal"`): the whole filter is one term.
  for (const match of search.matchAll(/(-?)(?:([a-z-]+:)(?:"[^"]*"|\S*)|"([^"]*)"|(\S+))/gi)) {
    const [, negated, filter, quoted, bare] = match;
    const word = quoted ?? bare;
    if (negated || filter || !word) continue;
    words.push(word.toLowerCase());
  }
  return words;
}

/** The search for messages with tag `tag` (quoted when it has spaces). */
export function tagQuery(tag: string): string {
  return /\s/.test(tag) ? `tag:"${tag}"` : `tag:${tag}`;
}

export type Piece = { text: string; mark: boolean };

/** `text` cut into pieces, with the pieces that match one of `words` marked. */
export function highlight(text: string, words: string[]): Piece[] {
  if (!words.length || !text) return [{ text, mark: false }];
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const pieces: Piece[] = [];
  let last = 0;
  for (const match of text.matchAll(new RegExp(escaped.join('|'), 'gi'))) {
    const at = match.index ?? 0;
    if (at > last) pieces.push({ text: text.slice(last, at), mark: false });
    pieces.push({ text: match[0], mark: true });
    last = at + match[0].length;
  }
  if (last < text.length) pieces.push({ text: text.slice(last), mark: false });
  return pieces;
}

export function addressText(address: { Name: string; Address: string } | null | undefined): string {
  if (!address) return '';
  return address.Name ? `${address.Name} <${address.Address}>` : address.Address;
}
