// mailpit-api.test.mjs - Pigeonhole driven by a real Mailpit client: every method of
// the npm package `mailpit-api` (pinned in package.json) against the real
// `pigeonhole serve`, with mail over real SMTP and the `/api/events` WebSocket, and
// each answer held to what Mailpit answers (exact key sets: the client's own e2e
// suite compares with deep equality, so an extra key breaks it).
//
// The engine, SMTP sending and fixtures come from the browser tests' harness
// (ui/tests/harness.mjs), so `npm ci` in ui/ must have run. Each feature that needs
// a serve flag (basic auth, chaos, release) gets its own engine, so a missing flag
// fails only its own tests.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { MailpitClient } from 'mailpit-api';

import { makePng, sendMail, sleep, startEngine, waitFor } from '../../ui/tests/harness.mjs';

// ------------------------------------------------------------------------ shapes

const SUMMARY_KEYS = ['ID', 'MessageID', 'Read', 'From', 'To', 'Cc', 'Bcc', 'ReplyTo', 'Subject', 'Created', 'Username', 'Tags', 'Size', 'Attachments', 'Snippet'];
const PAGE_KEYS = ['total', 'unread', 'count', 'messages_count', 'messages_unread', 'start', 'tags', 'messages'];
const MESSAGE_KEYS = ['ID', 'MessageID', 'From', 'To', 'Cc', 'Bcc', 'ReplyTo', 'ReturnPath', 'Subject', 'ListUnsubscribe', 'Date', 'Tags', 'Username', 'Text', 'HTML', 'Size', 'Inline', 'Attachments'];
const ATTACHMENT_KEYS = ['PartID', 'FileName', 'ContentType', 'ContentID', 'Size', 'Checksums'];
const INFO_KEYS = ['Version', 'LatestVersion', 'Database', 'DatabaseSize', 'Messages', 'Unread', 'Tags', 'RuntimeStats'];
const RUNTIME_KEYS = ['Uptime', 'Memory', 'MessagesDeleted', 'SMTPAccepted', 'SMTPAcceptedSize', 'SMTPRejected', 'SMTPIgnored'];
const WEBUI_KEYS = ['Label', 'MessageRelay', 'SpamAssassin', 'ChaosEnabled', 'DuplicatesIgnored', 'HideDeleteAllButton'];
const RELAY_KEYS = ['Enabled', 'SMTPServer', 'ReturnPath', 'AllowedRecipients', 'BlockedRecipients', 'OverrideFrom', 'PreserveMessageIDs', 'RecipientAllowlist'];
// The headers Mailpit's send API writes for the request below, in Go's canonical case.
const SENT_HEADER_KEYS = ['Bcc', 'Cc', 'Content-Type', 'Date', 'From', 'List-Unsubscribe', 'Message-Id', 'Mime-Version', 'Reply-To', 'Return-Path', 'Subject', 'To'];

/** Assert `value` is an object with exactly these keys (order aside). */
function assertKeys(value, keys, what) {
  assert.equal(typeof value, 'object', `${what}: not an object: ${JSON.stringify(value)}`);
  assert.notEqual(value, null, `${what}: null`);
  assert.deepEqual(Object.keys(value).sort(), [...keys].sort(), `${what}: key set`);
}

function assertAddress(value, what) {
  assertKeys(value, ['Name', 'Address'], what);
}

function assertSummary(summary, what = 'summary') {
  assertKeys(summary, SUMMARY_KEYS, what);
  assertAddress(summary.From, `${what}.From`);
  for (const field of ['To', 'Cc', 'Bcc', 'ReplyTo']) summary[field].forEach((a, i) => assertAddress(a, `${what}.${field}[${i}]`));
  assert.ok(!Number.isNaN(Date.parse(summary.Created)), `${what}.Created: ${summary.Created}`);
}

function assertPage(page, what = 'page') {
  assertKeys(page, PAGE_KEYS, what);
  assert.equal(page.count, page.messages.length, `${what}: count is the page's length`);
  page.messages.forEach((m, i) => assertSummary(m, `${what}.messages[${i}]`));
}

/** The client's errors read `Mailpit API Error: <status> <text> at <method> <url>: <body>`. */
async function assertRejects(promise, status, bodyText) {
  await assert.rejects(promise, (err) => {
    assert.match(err.message, new RegExp(`^Mailpit API Error: ${status} `), err.message);
    if (bodyText) assert.ok(err.message.includes(bodyText), `expected "${bodyText}" in: ${err.message}`);
    return true;
  });
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const blobBytes = async (blob) => Buffer.from(await blob.arrayBuffer());

/** Width and height from a JPEG's start-of-frame marker. */
function jpegSize(bytes) {
  assert.equal(bytes.readUInt16BE(0), 0xffd8, 'not a JPEG (no SOI marker)');
  let at = 2;
  while (at + 9 < bytes.length) {
    const marker = bytes.readUInt16BE(at);
    const length = bytes.readUInt16BE(at + 2);
    if (marker >= 0xffc0 && marker <= 0xffcf && ![0xffc4, 0xffc8, 0xffcc].includes(marker)) {
      return { height: bytes.readUInt16BE(at + 5), width: bytes.readUInt16BE(at + 7) };
    }
    at += 2 + length;
  }
  throw new Error('JPEG without a start-of-frame marker');
}

// ------------------------------------------------------------------------ fixtures

const PNG = makePng(360, 240, [30, 160, 60]);

/** The request of the client's own e2e suite (the HTML's cid: names no part, as there). */
const SEND_REQUEST = {
  From: { Email: 'sender@example.test', Name: 'Sender Name' },
  To: [{ Email: 'recipient@example.test', Name: 'Recipient Name' }],
  Cc: [{ Email: 'cc@example.test', Name: 'Carbon Name' }],
  Bcc: ['bcc@example.test'],
  ReplyTo: [{ Email: 'noreply@example.test', Name: 'No Reply' }],
  Subject: 'Test Email with Attachment',
  Text: 'This is a test email with an attachment.',
  HTML: `<div style="text-align:center"><p>Mailpit is <b>awesome</b>!</p>
      <p>This is a test email with an inline image: <img src="cid:test-image" /></p></div>
      <p><a href="https://example.test">Example Link</a></p>`,
  Headers: { 'List-Unsubscribe': '<mailto:unsubscribe@example.test>, <https://example.test/unsubscribe>' },
  Attachments: [
    { Content: PNG.toString('base64'), Filename: 'test.png' },
    { Content: PNG.toString('base64'), Filename: 'test.png', ContentID: 'inline-image', ContentType: 'image/png' },
  ],
};

/** A plain message over SMTP; `overrides` are nodemailer options. */
function smtpMail(subject, overrides = {}) {
  return { from: 'Alice <alice@example.test>', to: 'Bob <bob@example.test>', subject, text: `Body of ${subject}\n`, ...overrides };
}

// ------------------------------------------------------------------------ events

/**
 * The `/api/events` WebSocket (basic auth in the upgrade request when given), in the
 * way mailpit-api's companion mailpit-ws offers it: `onEvent(type | '*', fn)` and
 * `waitForEvent(type, match)`, which resolves with the next such event after the call.
 */
class Events {
  static async connect(url, auth) {
    if (typeof WebSocket === 'undefined') throw new Error('no global WebSocket: use Node 22+, or Node 20 with --experimental-websocket (npm test adds it)');
    const headers = auth ? { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` } : {};
    const events = new Events(new WebSocket(`${url.replace(/^http/, 'ws')}/api/events`, { headers }));
    await new Promise((resolve, reject) => {
      events.socket.addEventListener('open', resolve, { once: true });
      events.socket.addEventListener('error', () => reject(new Error(`cannot open ${url}/api/events`)), { once: true });
    });
    return events;
  }

  constructor(socket) {
    this.socket = socket;
    this.listeners = new Set();
    socket.addEventListener('message', (message) => {
      const event = JSON.parse(message.data);
      for (const listener of [...this.listeners]) listener(event);
    });
  }

  /** Call `fn` with every event of `type` (`*`: all); returns the unsubscribe. */
  onEvent(type, fn) {
    const listener = (event) => (type === '*' || event.Type === type) && fn(event);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  waitForEvent(type, match = () => true, timeout = 5000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no "${type}" event within ${timeout} ms`));
      }, timeout);
      const off = this.onEvent(type, (event) => {
        if (!match(event)) return;
        clearTimeout(timer);
        off();
        resolve(event);
      });
    });
  }

  close() {
    this.socket.close();
  }
}

function assertStatsEvent(event) {
  assert.equal(event.Type, 'stats');
  assertKeys(event.Data, ['Total', 'Unread', 'Version'], 'stats event');
}

// ------------------------------------------------------------------------ engine

/**
 * One engine for a describe block: `pigeonhole serve` with the flags `args()` gives,
 * a client (with `auth` if given) and its event stream, in `ctx`, filled in `before`.
 */
function engineFor({ args = async () => [], auth } = {}) {
  const ctx = {};
  before(async () => {
    ctx.engine = await startEngine({ args: await args() });
    ctx.mailpit = new MailpitClient(ctx.engine.url, auth ? { auth } : undefined);
    ctx.events = await Events.connect(ctx.engine.url, auth);
  });
  after(async () => {
    ctx.events?.close();
    await ctx.engine?.stop();
  });
  return ctx;
}

const tempDirs = [];
after(async () => {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

/** An htpasswd file with one plain-text entry (Mailpit reads those too). */
async function htpasswd(user, password) {
  const dir = await mkdtemp(join(tmpdir(), 'pigeonhole-clients-'));
  tempDirs.push(dir);
  const file = join(dir, 'htpasswd');
  await writeFile(file, `${user}:${password}\n`);
  return file;
}

// ------------------------------------------------------------------------ tests

describe('mailpit-api: messages, parts, views and events', () => {
  const ctx = engineFor();
  let id; // the message SEND_REQUEST made
  let smtp; // a message delivered over SMTP: { id, raw }

  test('sendMessage stores the message and the stream announces it (new, stats)', async () => {
    const newEvent = ctx.events.waitForEvent('new');
    const stats = ctx.events.waitForEvent('stats', (e) => e.Data.Total === 1);
    const sent = await ctx.mailpit.sendMessage(SEND_REQUEST);
    assertKeys(sent, ['ID'], 'send answer');
    id = sent.ID;

    const event = await newEvent;
    assertKeys(event, ['Type', 'Data'], 'new event');
    assertSummary(event.Data, 'new event');
    assert.equal(event.Data.ID, id);
    assert.equal(event.Data.Subject, SEND_REQUEST.Subject);
    assert.deepEqual(event.Data.From, { Name: 'Sender Name', Address: 'sender@example.test' });
    assert.deepEqual(event.Data.Bcc, [{ Name: '', Address: 'bcc@example.test' }]);
    assert.equal(event.Data.Username, '');
    assert.equal(event.Data.Attachments, 1);
    assert.equal(event.Data.Read, false);
    assertStatsEvent(await stats);
    assert.deepEqual((await stats).Data, { Total: 1, Unread: 1, Version: (await stats).Data.Version });
  });

  test('sendMessage refuses an invalid recipient with 400 "invalid To address"', async () => {
    await assertRejects(ctx.mailpit.sendMessage({ ...SEND_REQUEST, To: [{ Email: 'not an address' }] }), 400, 'invalid To address');
  });

  test('getInfo: exact keys and the counts', async () => {
    const info = await ctx.mailpit.getInfo();
    assertKeys(info, INFO_KEYS, 'info');
    assertKeys(info.RuntimeStats, RUNTIME_KEYS, 'info.RuntimeStats');
    assert.equal(info.Messages, 1);
    assert.equal(info.Unread, 1);
    assert.deepEqual(info.Tags, {});
    assert.ok(info.Database.endsWith('.db'), info.Database);
    assert.ok(info.DatabaseSize > 0);
  });

  test('getConfiguration: exact keys; relay, chaos and SpamAssassin off', async () => {
    const config = await ctx.mailpit.getConfiguration();
    assertKeys(config, WEBUI_KEYS, 'webui');
    assertKeys(config.MessageRelay, RELAY_KEYS, 'webui.MessageRelay');
    assert.equal(config.MessageRelay.Enabled, false);
    assert.equal(config.ChaosEnabled, false);
    assert.equal(config.SpamAssassin, false);
  });

  test('getMessageSummary: latest and by ID, exact keys, one attachment and one inline part', async () => {
    for (const which of [undefined, id]) {
      const message = await ctx.mailpit.getMessageSummary(which);
      assertKeys(message, MESSAGE_KEYS, 'message');
      assert.equal(message.ID, id);
      assert.equal(message.Subject, SEND_REQUEST.Subject);
      assert.deepEqual(message.To, [{ Name: 'Recipient Name', Address: 'recipient@example.test' }]);
      assert.deepEqual(message.Cc, [{ Name: 'Carbon Name', Address: 'cc@example.test' }]);
      assert.deepEqual(message.ReplyTo, [{ Name: 'No Reply', Address: 'noreply@example.test' }]);
      assert.equal(message.Text.trim(), SEND_REQUEST.Text);
      assert.ok(message.HTML.includes('Example Link'), message.HTML);
      assertKeys(message.ListUnsubscribe, ['Header', 'Links', 'Errors', 'HeaderPost'], 'ListUnsubscribe');
      assert.deepEqual(message.ListUnsubscribe.Links, ['mailto:unsubscribe@example.test', 'https://example.test/unsubscribe']);
      assert.equal(message.Attachments.length, 1);
      assert.equal(message.Inline.length, 1);
      for (const part of [...message.Attachments, ...message.Inline]) {
        assertKeys(part, ATTACHMENT_KEYS, 'attachment');
        assertKeys(part.Checksums, ['MD5', 'SHA1', 'SHA256'], 'attachment.Checksums');
        assert.equal(part.Checksums.SHA256, sha256(PNG));
        assert.equal(part.Size, PNG.length);
        assert.equal(part.FileName, 'test.png');
        assert.equal(part.ContentType, 'image/png');
      }
      assert.equal(message.Inline[0].ContentID, 'inline-image');
      assert.equal(message.Username, '');
    }
  });

  test('getMessageHeaders: the send API writes exactly Mailpit\'s headers', async () => {
    for (const which of [undefined, id]) {
      const headers = await ctx.mailpit.getMessageHeaders(which);
      assertKeys(headers, SENT_HEADER_KEYS, 'headers');
      for (const [name, values] of Object.entries(headers)) assert.ok(Array.isArray(values) && values.every((v) => typeof v === 'string'), name);
      assert.deepEqual(headers.Subject, [SEND_REQUEST.Subject]);
      assert.deepEqual(headers.Bcc, ['bcc@example.test']);
    }
  });

  test('getMessageSource: an SMTP message comes back byte for byte', async () => {
    smtp = await sendMail(ctx.engine.smtpPort, smtpMail('Over SMTP', { text: 'Grüße über SMTP\n' }));
    assert.equal(await ctx.mailpit.getMessageSource(smtp.id), smtp.raw.toString('utf8'));
    assert.equal(await ctx.mailpit.getMessageSource(), smtp.raw.toString('utf8'), 'latest');
    assert.ok((await ctx.mailpit.getMessageSource(id)).includes(`Subject: ${SEND_REQUEST.Subject}`));
  });

  test('getMessageAttachment: the attachment\'s bytes under its own type', async () => {
    const message = await ctx.mailpit.getMessageSummary(id);
    for (const part of [message.Attachments[0], message.Inline[0]]) {
      const blob = await ctx.mailpit.getMessageAttachment(id, part.PartID);
      assert.equal(blob.type, 'image/png');
      assert.ok((await blobBytes(blob)).equals(PNG));
    }
    await assertRejects(ctx.mailpit.getMessageAttachment(id, '9'), 404);
  });

  test('getAttachmentThumbnail: a 180x120 JPEG', async () => {
    const message = await ctx.mailpit.getMessageSummary(id);
    const blob = await ctx.mailpit.getAttachmentThumbnail(id, message.Attachments[0].PartID);
    assert.equal(blob.type, 'image/jpeg');
    assert.deepEqual(jpegSize(await blobBytes(blob)), { width: 180, height: 120 });
  });

  test('listMessages: newest first, exact keys, paging', async () => {
    const page = await ctx.mailpit.listMessages();
    assertPage(page);
    assert.deepEqual(page.messages.map((m) => m.ID), [smtp.id, id]);
    assert.equal(page.total, 2);
    assert.equal(page.messages_count, 2);
    assert.equal(page.start, 0);
    const second = await ctx.mailpit.listMessages(1, 1);
    assertPage(second);
    assert.deepEqual(second.messages.map((m) => m.ID), [id]);
    assert.equal(second.start, 1);
    assert.equal(second.total, 2);
  });

  test('setReadStatus: by ID, by search and all; update and stats events', async () => {
    await ctx.mailpit.setReadStatus({ Read: false }); // getMessageSummary marked the send one read
    // The reset's own events may still be on their way: wait for this change's.
    const update = ctx.events.waitForEvent('update', (e) => e.Data.ID === id && e.Data.Read === true);
    const stats = ctx.events.waitForEvent('stats', (e) => e.Data.Unread === 1);
    assert.equal(await ctx.mailpit.setReadStatus({ IDs: [id], Read: true }), 'ok');
    assert.deepEqual(await update, { Type: 'update', Data: { ID: id, Read: true } });
    assertStatsEvent(await stats);
    const read = async () => Object.fromEntries((await ctx.mailpit.listMessages()).messages.map((m) => [m.ID, m.Read]));
    assert.deepEqual(await read(), { [id]: true, [smtp.id]: false });

    assert.equal(await ctx.mailpit.setReadStatus({ Search: 'subject:"Over SMTP"', Read: true }), 'ok');
    assert.deepEqual(await read(), { [id]: true, [smtp.id]: true });
    assert.equal(await ctx.mailpit.setReadStatus(), 'ok');
    assert.deepEqual(await read(), { [id]: false, [smtp.id]: false });
    assert.equal(await ctx.mailpit.setReadStatus({ Search: 'after:2000-01-01', Read: true }, { tz: 'America/Chicago' }), 'ok');
    assert.equal((await ctx.mailpit.listMessages()).unread, 0);
    await assertRejects(ctx.mailpit.setReadStatus({ IDs: [id], Search: 'x', Read: true }), 400);
  });

  test('searchMessages: Mailpit\'s syntax, exact keys, 400 without a query', async () => {
    const page = await ctx.mailpit.searchMessages({ query: `subject:${SEND_REQUEST.Subject}`, start: 0, limit: 10 });
    assertPage(page);
    assert.deepEqual(page.messages.map((m) => m.ID), [id]);
    assert.equal(page.messages_count, 1);
    assert.equal(page.total, 2);
    const none = await ctx.mailpit.searchMessages({ query: 'from:nobody@nowhere.test' });
    assert.equal(none.messages_count, 0);
    assert.deepEqual(none.messages, []);
    await assertRejects(ctx.mailpit.searchMessages({ query: '' }), 400, 'no search query');
  });

  test('searchMessages and deleteMessagesBySearch with tz: dates read in that zone, 400 for an unknown one', async () => {
    // An hour ago, as a wall clock in Kiritimati (UTC+14) reads it: in UTC that
    // time is still 13 hours ahead, so only the tz makes it the past.
    const zone = 'Pacific/Kiritimati';
    const parts = Object.fromEntries(
      new Intl.DateTimeFormat('en-CA', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' })
        .formatToParts(new Date(Date.now() - 3600_000))
        .map((p) => [p.type, p.value]),
    );
    const query = `after:"${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}"`;
    const all = (await ctx.mailpit.listMessages()).total;
    assert.ok(all > 0);
    assert.equal((await ctx.mailpit.searchMessages({ query, tz: zone })).messages_count, all);
    assert.equal((await ctx.mailpit.searchMessages({ query })).messages_count, 0);
    await assertRejects(ctx.mailpit.searchMessages({ query, tz: 'Nowhere/AtAll' }), 400, 'unknown time zone');
    await assertRejects(ctx.mailpit.deleteMessagesBySearch({ query, tz: 'Nowhere/AtAll' }), 400, 'unknown time zone');
    assert.equal(await ctx.mailpit.deleteMessagesBySearch({ query }), 'ok');
    assert.equal((await ctx.mailpit.listMessages()).total, all);
  });

  test('waitForMessage and waitForMessages: mail that arrives while waiting', async () => {
    const waiting = ctx.mailpit.waitForMessage({ query: 'subject:"Arrives later"' }, { timeout: 10_000, interval: 100 });
    await sleep(300);
    const later = await sendMail(ctx.engine.smtpPort, smtpMail('Arrives later'));
    const message = await waiting;
    assertKeys(message, MESSAGE_KEYS, 'waited message');
    assert.equal(message.ID, later.id);

    const many = ctx.mailpit.waitForMessages({ query: 'subject:Batch', count: 2 }, { timeout: 10_000, interval: 100 });
    await sendMail(ctx.engine.smtpPort, smtpMail('Batch one'));
    await sendMail(ctx.engine.smtpPort, smtpMail('Batch two'));
    const page = await many;
    assertPage(page);
    assert.equal(page.messages_count, 2);
    const all = await ctx.mailpit.waitForMessages({ timeout: 2000 });
    assert.equal(all.messages_count, 5);
    await assert.rejects(ctx.mailpit.waitForMessage({ query: 'subject:Never' }, { timeout: 400, interval: 100 }), /Timeout waiting/);
  });

  test('htmlCheck: caniemail results for the HTML part', async () => {
    {
      const check = await ctx.mailpit.htmlCheck(id);
      assertKeys(check, ['Platforms', 'Total', 'Warnings'], 'html-check');
      assertKeys(check.Total, ['Nodes', 'Tests', 'Supported', 'Partial', 'Unsupported'], 'html-check.Total');
      assert.equal(typeof check.Platforms, 'object');
      assert.ok(check.Warnings.length >= 1, 'at least one warning');
      for (const warning of check.Warnings) {
        assertKeys(warning, ['Slug', 'Title', 'Description', 'Category', 'Keywords', 'Tags', 'URL', 'NotesByNumber', 'Score', 'Results'], 'warning');
        assertKeys(warning.Score, ['Found', 'Supported', 'Partial', 'Unsupported'], 'warning.Score');
        for (const result of warning.Results) assertKeys(result, ['Name', 'Family', 'Platform', 'Version', 'Support', 'NoteNumber'], 'warning result');
      }
      assert.ok(check.Warnings.some((w) => w.Results.length >= 1), 'a warning with results');
    }
    // The latest message here is plain text: Mailpit answers 400.
    await assertRejects(ctx.mailpit.htmlCheck(), 400, 'message does not contain HTML');
  });

  test('linkCheck: the body\'s links with a status, unreachable ones counted as errors', async () => {
    for (const follow of [false, true]) {
      const check = await ctx.mailpit.linkCheck(id, follow);
      assertKeys(check, ['Errors', 'Links'], 'link-check');
      // Links of the HTML and text bodies; List-Unsubscribe is not checked.
      assert.deepEqual(check.Links.map((l) => l.URL), ['https://example.test']);
      const [link] = check.Links;
      assertKeys(link, ['URL', 'StatusCode', 'Status'], 'link');
      // example.test never resolves (RFC 2606): status 0 with the reason, an error.
      assert.equal(link.StatusCode, 0, JSON.stringify(link));
      assert.ok(link.Status.length > 0, JSON.stringify(link));
      assert.equal(check.Errors, 1);
    }
  });

  test('spamAssassinCheck: 404, as Mailpit answers when SpamAssassin is not configured', async () => {
    await assertRejects(ctx.mailpit.spamAssassinCheck(id), 404);
    await assertRejects(ctx.mailpit.spamAssassinCheck(), 404);
  });

  test('tags: setTags, getTags, renameTag, deleteTag, with update events', async () => {
    const update = ctx.events.waitForEvent('update', (e) => e.Data.ID === id && 'Tags' in e.Data);
    assert.equal(await ctx.mailpit.setTags({ IDs: [id], Tags: ['test-tag'] }), 'ok');
    assert.deepEqual(await update, { Type: 'update', Data: { ID: id, Tags: ['test-tag'] } });
    assert.equal(await ctx.mailpit.setTags({ IDs: [id, smtp.id], Tags: ['test-tag', 'second'] }), 'ok');
    assert.deepEqual(await ctx.mailpit.getTags(), ['second', 'test-tag']);
    const tagged = (await ctx.mailpit.searchMessages({ query: 'tag:test-tag' })).messages;
    assert.deepEqual(tagged.map((m) => [m.ID, m.Tags]), [[smtp.id, ['second', 'test-tag']], [id, ['second', 'test-tag']]]);

    assert.equal(await ctx.mailpit.renameTag('test-tag', 'renamed tag'), 'ok');
    assert.deepEqual(await ctx.mailpit.getTags(), ['renamed tag', 'second']);
    assert.deepEqual((await ctx.mailpit.getMessageSummary(id)).Tags, ['renamed tag', 'second']);
    assert.deepEqual((await ctx.mailpit.listMessages()).tags, ['renamed tag', 'second']);

    assert.equal(await ctx.mailpit.deleteTag('renamed tag'), 'ok');
    assert.deepEqual((await ctx.mailpit.getMessageSummary(smtp.id)).Tags, ['second']);
    assert.equal(await ctx.mailpit.setTags({ IDs: [smtp.id], Tags: [] }), 'ok');
    assert.equal(await ctx.mailpit.setTags({ IDs: [id] }), 'ok'); // no Tags: clears
    assert.deepEqual(await ctx.mailpit.getTags(), []);
    assert.deepEqual((await ctx.mailpit.getMessageSummary(id)).Tags, []);
  });

  test('chaos and release are refused while not enabled', async () => {
    await assertRejects(ctx.mailpit.getChaosTriggers(), 400);
    await assertRejects(ctx.mailpit.setChaosTriggers({ Sender: { ErrorCode: 451, Probability: 5 } }), 400);
    await assertRejects(ctx.mailpit.releaseMessage(id, { To: ['user1@example.test'] }), 400);
  });

  test('renderMessageHTML and renderMessageText', async () => {
    const html = await ctx.mailpit.renderMessageHTML(id);
    assert.ok(html.includes(SEND_REQUEST.HTML), html);
    const embedded = await ctx.mailpit.renderMessageHTML(id, 1);
    assert.ok(!embedded.includes(SEND_REQUEST.HTML));
    assert.ok(embedded.includes('target="_blank" rel="noreferrer noopener"'), embedded);
    assert.equal((await ctx.mailpit.renderMessageText(id)).trim(), SEND_REQUEST.Text);
    assert.equal((await ctx.mailpit.renderMessageText()).trim(), 'Body of Batch two');
    // The latest message has no HTML part.
    await assertRejects(ctx.mailpit.renderMessageHTML(), 404);
  });

  test('deleteMessagesBySearch: delete and stats events', async () => {
    const deleted = ctx.events.waitForEvent('delete');
    const stats = ctx.events.waitForEvent('stats');
    assert.equal(await ctx.mailpit.deleteMessagesBySearch({ query: 'subject:Batch' }), 'ok');
    assertKeys((await deleted).Data, ['ID'], 'delete event');
    assertStatsEvent(await stats);
    assert.equal((await ctx.mailpit.searchMessages({ query: 'subject:Batch' })).messages_count, 0);
    await assertRejects(ctx.mailpit.deleteMessagesBySearch({ query: '' }), 400, 'no search query');
  });

  test('deleteMessages: by ID (delete event), then all (truncate, stats 0/0)', async () => {
    const deleted = ctx.events.waitForEvent('delete', (e) => e.Data.ID === id);
    assert.equal(await ctx.mailpit.deleteMessages({ IDs: [id] }), 'ok');
    assert.deepEqual(await deleted, { Type: 'delete', Data: { ID: id } });
    await assertRejects(ctx.mailpit.getMessageSummary(id), 404);

    const truncate = ctx.events.waitForEvent('truncate');
    const stats = ctx.events.waitForEvent('stats', (e) => e.Data.Total === 0);
    assert.equal(await ctx.mailpit.deleteMessages(), 'ok');
    assert.deepEqual(await truncate, { Type: 'truncate', Data: null });
    const zero = await stats;
    assert.deepEqual(zero, { Type: 'stats', Data: { Total: 0, Unread: 0, Version: zero.Data.Version } });
    assert.equal((await ctx.mailpit.listMessages()).total, 0);
    await assertRejects(ctx.mailpit.getMessageSummary(), 404, 'Message not found');
  });

  // The client's own end-to-end suite does this: its afterEach sends a message
  // without waiting for its events, then the test listens for the next `stats`
  // and deletes everything; that `stats` must say the store is empty.
  test('deleteMessages right after sendMessage: the next stats says Total 0', async () => {
    await ctx.mailpit.sendMessage(SEND_REQUEST);
    const truncate = ctx.events.waitForEvent('truncate');
    const stats = ctx.events.waitForEvent('stats');
    assert.equal(await ctx.mailpit.deleteMessages(), 'ok');
    await truncate;
    const next = await stats;
    assert.deepEqual(next, { Type: 'stats', Data: { Total: 0, Unread: 0, Version: next.Data.Version } });
  });

  test('the wildcard listener sees new and stats', async () => {
    const seen = [];
    const off = ctx.events.onEvent('*', (e) => seen.push(e.Type));
    await sendMail(ctx.engine.smtpPort, smtpMail('Wildcard'));
    await waitFor(() => seen.includes('new') && seen.includes('stats'), { message: `events seen: ${seen}` });
    off();
  });

  test('a server that is not there: "No response received"', async () => {
    const gone = new MailpitClient('http://127.0.0.1:9');
    await assert.rejects(gone.getInfo(), /^Error: Mailpit API Error: No response received from server at GET http:\/\/127\.0\.0\.1:9\/api\/v1\/info/);
  });
});

describe('mailpit-api with basic auth (--ui-auth-file)', () => {
  const auth = { username: 'mailpit-user', password: 'pass word' };
  const ctx = engineFor({ args: async () => ['--ui-auth-file', await htpasswd(auth.username, auth.password)], auth });

  test('messages sent with credentials carry the user name, in the event and the views', async () => {
    const newEvent = ctx.events.waitForEvent('new');
    const { ID } = await ctx.mailpit.sendMessage(SEND_REQUEST);
    const event = await newEvent;
    assertSummary(event.Data, 'new event');
    assert.equal(event.Data.Username, auth.username);
    assert.equal((await ctx.mailpit.getMessageSummary(ID)).Username, auth.username);
    assert.equal((await ctx.mailpit.listMessages()).messages[0].Username, auth.username);
  });

  test('wrong or missing credentials: 401 Unauthorized, for the API and the event stream', async () => {
    const wrong = new MailpitClient(ctx.engine.url, { auth: { username: 'invalid-user', password: 'invalid-password' } });
    await assert.rejects(wrong.getInfo(), /401 Unauthorized/);
    await assert.rejects(new MailpitClient(ctx.engine.url).listMessages(), /401 Unauthorized/);
    await assert.rejects(Events.connect(ctx.engine.url, { username: auth.username, password: 'nope' }), /cannot open/);
  });
});

describe('mailpit-api chaos triggers (--enable-chaos)', () => {
  const ctx = engineFor({ args: async () => ['--enable-chaos'] });
  const defaults = {
    Sender: { ErrorCode: 451, Probability: 0 },
    Recipient: { ErrorCode: 451, Probability: 0 },
    Authentication: { ErrorCode: 535, Probability: 0 },
  };

  test('getConfiguration says chaos is on; getChaosTriggers starts at 0%', async () => {
    assert.equal((await ctx.mailpit.getConfiguration()).ChaosEnabled, true);
    assert.deepEqual(await ctx.mailpit.getChaosTriggers(), defaults);
  });

  test('setChaosTriggers echoes the triggers, SMTP fails as told, omitted ones reset', async () => {
    const triggers = {
      Authentication: { ErrorCode: 451, Probability: 5 },
      Recipient: { ErrorCode: 452, Probability: 10 },
      Sender: { ErrorCode: 453, Probability: 100 },
    };
    assert.deepEqual(await ctx.mailpit.setChaosTriggers(triggers), triggers);
    assert.deepEqual(await ctx.mailpit.getChaosTriggers(), triggers);
    await assert.rejects(sendMail(ctx.engine.smtpPort, smtpMail('Chaos')), (err) => {
      assert.equal(err.responseCode, 453, err.message);
      return true;
    });
    assert.deepEqual(await ctx.mailpit.setChaosTriggers(), defaults);
    await sendMail(ctx.engine.smtpPort, smtpMail('Calm again'));
    await assertRejects(ctx.mailpit.setChaosTriggers({ Sender: { ErrorCode: 200, Probability: 5 } }), 400);
  });
});

describe('mailpit-api release (--smtp-relay-host)', () => {
  // The relay target: a second Pigeonhole, a real SMTP server that shows what it got
  // (started first: hooks run in the order they are declared).
  const target = {};
  before(async () => {
    target.engine = await startEngine();
  });
  after(async () => {
    await target.engine?.stop();
  });
  const ctx = engineFor({
    args: async () => [
      '--smtp-relay-host', '127.0.0.1',
      '--smtp-relay-port', String(target.engine.smtpPort),
      '--smtp-relay-allowed-recipients', '@example\\.test$',
    ],
  });

  test('getConfiguration shows the relay', async () => {
    const relay = (await ctx.mailpit.getConfiguration()).MessageRelay;
    assertKeys(relay, RELAY_KEYS, 'MessageRelay');
    assert.equal(relay.Enabled, true);
    assert.equal(relay.SMTPServer, `127.0.0.1:${target.engine.smtpPort}`);
    assert.equal(relay.AllowedRecipients, '@example\\.test$');
    assert.equal(relay.RecipientAllowlist, relay.AllowedRecipients);
  });

  test('releaseMessage relays to the named recipients, and only allowed ones', async () => {
    const sent = await sendMail(ctx.engine.smtpPort, smtpMail('Release me'));
    assert.equal(await ctx.mailpit.releaseMessage(sent.id, { To: ['user1@example.test'] }), 'ok');
    const relayed = new MailpitClient(target.engine.url);
    const arrived = await relayed.waitForMessage({ query: 'subject:"Release me"' }, { timeout: 10_000, interval: 100 });
    assert.equal(arrived.Subject, 'Release me');
    const envelope = await (await fetch(`${target.engine.url}/api/v1/message/${arrived.ID}/envelope`)).json();
    assert.deepEqual(envelope.RcptTo, ['user1@example.test']);

    await assertRejects(ctx.mailpit.releaseMessage(sent.id, { To: ['someone@elsewhere.test'] }), 400);
    await assertRejects(ctx.mailpit.releaseMessage(sent.id, { To: [] }), 400);
  });
});
