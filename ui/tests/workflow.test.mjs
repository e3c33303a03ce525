// Workflows across the UI: bulk actions (read, mbox export, delete), highlighted
// search matches, inboxes per SMTP AUTH user, the PDF and dark-mode previews,
// remembered pane widths, and the shortcuts dialog.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

import {
  api,
  expectAttribute,
  expectCount,
  expectText,
  htmlMail,
  multipartMail,
  openMessage,
  openTab,
  openUI,
  plainMail,
  previewFrame,
  row,
  screenshot,
  sendMail,
  uiTest,
  waitFor,
} from './harness.mjs';

/** Split an mboxrd file back into messages (the `From ` line off, `>From ` unquoted). */
function splitMbox(text) {
  return text
    .split(/^From .*\r?\n/m)
    .slice(1)
    .map((m) => m.replace(/\r?\n$/, '').replace(/^>(>*From )/gm, '$1'));
}

uiTest('bulk: check rows, mark them read, export them as mbox, delete them', async ({ engine, page }) => {
  const sent = [];
  for (const subject of ['Bulk one', 'Bulk two', 'Bulk keeper']) {
    sent.push(await sendMail(engine.smtpPort, plainMail({ subject, text: `From the start\nbody of ${subject}\n` })));
  }
  await openUI(page, engine);
  await expectAttribute(page.getByTestId('message-list'), 'data-total', '3');
  const [one, two, keeper] = sent;
  for (const m of [one, two]) await row(page, m.id).getByTestId('row-check').check();

  await page.getByTestId('bulk-read').click();
  for (const m of [one, two]) await expectAttribute(row(page, m.id), 'data-unread', 'false');
  await expectAttribute(row(page, keeper.id), 'data-unread', 'true');
  const listed = (await api(engine, '/api/v1/messages')).json.messages;
  assert.deepEqual(
    listed.map((m) => [m.ID, m.Read]).sort(),
    [
      [one.id, true],
      [two.id, true],
      [keeper.id, false],
    ].sort(),
  );

  // Marking read cleared the selection: check the two again to export them.
  for (const m of [one, two]) await row(page, m.id).getByTestId('row-check').check();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('bulk-export').click()]);
  assert.match(download.suggestedFilename(), /\.mbox$/);
  const mbox = splitMbox(await readFile(await download.path(), 'latin1'));
  assert.deepEqual(mbox.sort(), [one.raw.toString('latin1'), two.raw.toString('latin1')].sort(), 'the mbox holds the exact messages');

  await page.getByTestId('bulk-delete').click();
  await expectCount(page.getByTestId('message-row'), 1);
  await expectAttribute(page.getByTestId('message-list'), 'data-total', '1');
  const left = (await api(engine, '/api/v1/messages')).json.messages.map((m) => m.ID);
  assert.deepEqual(left, [keeper.id]);
});

uiTest('search highlights the matched words in the list', async ({ engine, page }) => {
  await sendMail(engine.smtpPort, plainMail({ subject: 'Quarterly invoice ready', text: 'Your invoice for Q3.\n' }));
  await sendMail(engine.smtpPort, plainMail({ subject: 'Lunch on Friday' }));
  await openUI(page, engine);
  await page.keyboard.press('/');
  await page.keyboard.type('invoice');
  await expectAttribute(page.getByTestId('message-list'), 'data-total', '1');
  const marks = page.getByTestId('message-row').locator('mark');
  await waitFor(async () => (await marks.count()) >= 2, { message: 'subject and snippet should both mark "invoice"' });
  for (const text of await marks.allTextContents()) assert.equal(text.toLowerCase(), 'invoice');
  await screenshot(page, 'search-highlight');
});

uiTest('an inbox per SMTP AUTH user, with its unread count; choosing it filters the list', async ({ engine, page }) => {
  await sendMail(engine.smtpPort, plainMail({ subject: 'To the default inbox' }));
  await promisify(execFile)('swaks', [
    '--server', engine.smtpAddress, '--auth', 'PLAIN', '--auth-user', 'billing-app', '--auth-password', 'any',
    '--from', 'billing@example.test', '--to', 'bob@example.test', '--header', 'Subject: From the billing app',
    '--body', 'Invoice attached.',
  ]);
  await openUI(page, engine);
  const billing = page.locator('[data-testid="inbox-item"][data-inbox="billing-app"]');
  await expectText(billing.locator('.unread-count'), /^\s*1\s*$/);
  await expectText(page.locator('[data-testid="inbox-item"][data-inbox=""] .unread-count'), /^\s*2\s*$/);
  await billing.click();
  await expectAttribute(billing, 'aria-current', 'true');
  await expectAttribute(page.getByTestId('message-list'), 'data-total', '1');
  await expectText(page.getByTestId('message-row').locator('.subject'), 'From the billing app');
  // Reading it brings the inbox's count down.
  await page.getByTestId('message-row').click();
  await waitFor(async () => (await billing.locator('.unread-count').count()) === 0, { message: 'billing-app still shows unread' });
  await screenshot(page, 'inboxes');
});

uiTest('a PDF attachment is previewed inline, every page on request', async ({ engine, page }) => {
  const { options } = multipartMail();
  const { id } = await sendMail(engine.smtpPort, options);
  await openUI(page, engine);
  await openMessage(page, id);
  const panel = await openTab(page, 'attachments');
  const thumb = panel.getByTestId('pdf-preview').first();
  await expectAttribute(thumb, 'data-pages', '1');
  await thumb.locator('canvas').waitFor();
  await panel.getByRole('button', { name: 'Show pages' }).click();
  await waitFor(async () => (await panel.getByTestId('pdf-preview').count()) === 2, { message: 'no full PDF view' });
  // The drawn page is not blank: some pixels are dark (the text "Invoice 42").
  const inked = await panel
    .getByTestId('pdf-preview')
    .nth(1)
    .locator('canvas')
    .evaluate((canvas) => {
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      let dark = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i] < 100 && data[i + 3] > 0) dark++;
      return dark;
    });
  assert.ok(inked > 50, `the PDF page looks blank (${inked} dark pixels)`);
  await screenshot(page, 'pdf-preview');
});

uiTest('dark-mode preview applies the message\'s prefers-color-scheme: dark rules', async ({ engine, page }) => {
  const html =
    '<style>body{background:#ffffff;color:#000}' +
    '@media (prefers-color-scheme: dark){body{background:#202020;color:#eeeeee}}</style><p>Dark-aware mail</p>';
  const { id } = await sendMail(engine.smtpPort, htmlMail(html, { subject: 'Dark aware' }));
  await openUI(page, engine);
  await openMessage(page, id);
  await openTab(page, 'html');
  const background = async () =>
    (await previewFrame(page)).evaluate(() => getComputedStyle(document.body).backgroundColor);
  await waitFor(async () => (await background()) === 'rgb(255, 255, 255)', { message: 'light preview is not white' });
  await page.getByTestId('dark-preview').locator('input').check();
  await waitFor(async () => (await background().catch(() => '')) === 'rgb(32, 32, 32)', {
    message: 'the dark preview did not apply the dark rule',
  });
  await screenshot(page, 'preview-dark');
});

uiTest('pane widths are remembered; ? shows the shortcuts', async ({ engine, page }) => {
  await openUI(page, engine);
  const list = page.getByTestId('message-list');
  const before = (await list.boundingBox()).width;
  const splitter = page.getByRole('separator', { name: 'Resize message list' });
  const box = await splitter.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + 200);
  await page.mouse.down();
  await page.mouse.move(box.x + 120, box.y + 200, { steps: 5 });
  await page.mouse.up();
  await waitFor(async () => (await list.boundingBox()).width > before + 100, { message: 'dragging did not widen the list' });
  const widened = (await list.boundingBox()).width;
  await page.reload();
  await page.getByTestId('app').waitFor();
  await waitFor(async () => Math.abs((await list.boundingBox()).width - widened) < 2, { message: 'width not remembered' });

  await page.keyboard.press('?');
  await page.getByTestId('shortcuts-help').waitFor();
  await expectText(page.getByTestId('shortcuts-help'), /Mark unread/);
  await page.keyboard.press('Escape');
  await page.getByTestId('shortcuts-help').waitFor({ state: 'detached' });
});

uiTest('pause intake from the UI: SMTP answers 421 until resumed', async ({ engine, page }) => {
  await openUI(page, engine);
  await page.getByTestId('intake-toggle').click();
  await page.getByTestId('intake-paused').waitFor();
  assert.deepEqual((await api(engine, '/api/v1/intake')).json, {
    Paused: true,
    SMTPAddress: `127.0.0.1:${engine.smtpPort}`,
    POP3Address: '',
    IMAPAddress: '',
    IMAPImplicitTLS: false,
  });
  await assert.rejects(sendMail(engine.smtpPort, plainMail({ subject: 'While paused' })), (err) => {
    assert.match(String(err.response ?? err.message), /421/);
    return true;
  });
  await screenshot(page, 'intake-paused');

  await page.getByTestId('intake-paused').getByRole('button', { name: 'Resume' }).click();
  await page.getByTestId('intake-paused').waitFor({ state: 'detached' });
  await expectText(page.getByTestId('intake-toggle'), 'Pause intake');
  const { id } = await sendMail(engine.smtpPort, plainMail({ subject: 'After resuming' }));
  await row(page, id).waitFor();
});

uiTest('a #/ID link opens that message (deep links, desktop notifications)', async ({ engine, page }) => {
  const older = await sendMail(engine.smtpPort, plainMail({ subject: 'Linked message' }));
  await sendMail(engine.smtpPort, plainMail({ subject: 'Newer message' }));
  await openUI(page, engine, { path: `/#/${older.id}` });
  await expectAttribute(page.getByTestId('message-view'), 'data-id', older.id);
  await expectText(page.getByTestId('message-subject'), 'Linked message');
  const newer = (await api(engine, '/api/v1/messages')).json.messages[0].ID;
  await page.evaluate((id) => (location.hash = `#/${id}`), newer);
  await expectAttribute(page.getByTestId('message-view'), 'data-id', newer);
  await expectText(page.getByTestId('message-subject'), 'Newer message');
});
