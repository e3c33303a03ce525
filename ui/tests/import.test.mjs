// Importing mail files: "Import…" (the file input) and a drop on the window, of an
// .eml and of an mbox of 3 messages; every message is stored byte for byte and the
// newest opens. Files that are not mail give an error line in plain words.

import assert from 'node:assert/strict';

import { api, expectAttribute, expectCount, expectText, openUI, screenshot, uiTest } from './harness.mjs';

const crlf = (text) => Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1');

const EML = {
  subject: 'Imported eml',
  raw: crlf('From: Importer <importer@example.test>\nTo: bob@example.test\nSubject: Imported eml\n\nHello from a file.\n'),
};

/** Three messages, one with lines an mbox has to quote. */
const MBOX_MESSAGES = ['Mbox one', 'Mbox two', 'Mbox three'].map((subject) => ({
  subject,
  raw: crlf(`From: Archive <archive@example.test>\nTo: bob@example.test\nSubject: ${subject}\n\nFrom the start of a line\n>From a quoted one\n`),
}));

/** The three as an mboxrd file: separator lines, `From ` lines quoted, an empty line after each. */
const MBOX = Buffer.concat(
  MBOX_MESSAGES.flatMap(({ raw }) => [
    Buffer.from('From archive@example.test Tue Jan  2 15:20:30 2024\n'),
    Buffer.from(raw.toString('latin1').replace(/^(>*From )/gm, '>$1'), 'latin1'),
    Buffer.from('\n'),
  ]),
);

/**
 * Wait for the status line and the rows, then check that the stored messages are
 * `expected`, oldest first, each byte for byte, and that the newest one is open.
 */
async function expectImported(engine, page, expected) {
  await expectText(page.getByTestId('import-status'), `Imported ${expected.length} messages`);
  await expectAttribute(page.getByTestId('message-list'), 'data-total', String(expected.length));
  await expectCount(page.getByTestId('message-row'), expected.length);
  const ids = (await api(engine, '/api/v1/messages')).json.messages.map((m) => m.ID).reverse();
  for (const [i, { subject, raw }] of expected.entries()) {
    const stored = await api(engine, `/api/v1/message/${ids[i]}/raw`);
    assert.equal(stored.status, 200);
    assert.ok(stored.bytes.equals(raw), `${subject}: the stored bytes are the file's:\n${stored.text}`);
  }
  const newest = ids.at(-1);
  await expectAttribute(page.getByTestId('message-view'), 'data-id', newest);
  await expectText(page.getByTestId('message-subject'), expected.at(-1).subject);
  assert.equal(await page.evaluate(() => location.hash), `#/${newest}`);
}

uiTest('Import… takes an .eml and an mbox through the file picker', async ({ engine, page }) => {
  await openUI(page, engine, { connected: true });
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.getByTestId('import-button').click()]);
  assert.ok(chooser.isMultiple(), 'the picker takes several files');
  assert.equal(await (await chooser.element()).getAttribute('data-testid'), 'import-input');

  await page.getByTestId('import-input').setInputFiles([
    { name: 'hello.eml', mimeType: 'message/rfc822', buffer: EML.raw },
    { name: 'archive.mbox', mimeType: 'application/mbox', buffer: MBOX },
  ]);
  await expectImported(engine, page, [EML, ...MBOX_MESSAGES]);
  await screenshot(page, 'import-done');
});

uiTest('dropping files on the window imports them (an mbox known by its first line)', async ({ engine, page }) => {
  await openUI(page, engine);
  // Thunderbird's mbox files have no extension: `Inbox` is one by its `From ` line.
  const files = [
    { name: 'hello.eml', type: '', base64: EML.raw.toString('base64') },
    { name: 'Inbox', type: '', base64: MBOX.toString('base64') },
  ];
  const dataTransfer = await page.evaluateHandle((files) => {
    const transfer = new DataTransfer();
    for (const { name, type, base64 } of files) {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], name, { type }));
    }
    return transfer;
  }, files);

  await page.dispatchEvent('[data-testid="message-list"]', 'dragenter', { dataTransfer });
  await expectText(page.getByTestId('import-overlay'), 'Drop .eml or mbox files to import');
  await screenshot(page, 'import-overlay');
  await page.dispatchEvent('[data-testid="message-list"]', 'drop', { dataTransfer });
  await expectCount(page.getByTestId('import-overlay'), 0);
  await expectImported(engine, page, [EML, ...MBOX_MESSAGES]);
});

uiTest('files that are not mail get an error line each; the rest imports', async ({ engine, page }) => {
  await openUI(page, engine);
  await page.getByTestId('import-input').setInputFiles([
    { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('just some notes\n') },
    { name: 'empty.eml', mimeType: 'message/rfc822', buffer: Buffer.alloc(0) },
    { name: 'hello.eml', mimeType: 'message/rfc822', buffer: EML.raw },
  ]);
  const status = page.getByTestId('import-status');
  await expectText(status, 'Imported 1 message');
  await expectAttribute(status, 'data-busy', 'false');
  const failures = await status.locator('li').allTextContents();
  assert.equal(failures.length, 2, failures.join('\n'));
  assert.match(failures[0], /^notes\.txt: the file is not an e-mail message/);
  assert.match(failures[1], /^empty\.eml: the file is empty/);
  await screenshot(page, 'import-errors');
  assert.equal((await api(engine, '/api/v1/messages')).json.total, 1);

  await status.getByRole('button', { name: 'Dismiss' }).click();
  await expectCount(status, 0);
});
