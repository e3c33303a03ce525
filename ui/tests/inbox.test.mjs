// The message list: live arrival over the WebSocket, opening, read/unread, the j/k
// keys, search as you type, delete.

import assert from 'node:assert/strict';

import {
  api,
  expectAttribute,
  expectCount,
  expectText,
  multipartMail,
  openMessage,
  openUI,
  plainMail,
  row,
  rowIds,
  screenshot,
  sendMail,
  uiTest,
  waitFor,
} from './harness.mjs';

/** Send `n` plain messages one after the other; returns their send results, oldest first. */
async function sendSeveral(engine, subjects) {
  const sent = [];
  for (const subject of subjects) sent.push(await sendMail(engine.smtpPort, plainMail({ subject })));
  return sent;
}

uiTest('mail sent over SMTP appears in the list live, without a reload', async ({ engine, page }) => {
  await openUI(page, engine);
  await page.evaluate(() => {
    window.__sameDocument = true;
  });

  const first = await sendMail(engine.smtpPort, plainMail({ subject: 'Live arrival one' }));
  const firstRow = row(page, first.id);
  await firstRow.waitFor({ state: 'visible' });
  await expectText(firstRow.locator('.subject'), 'Live arrival one');
  await expectText(firstRow.locator('.from'), /Alice Example|alice@example\.test/);
  await expectAttribute(firstRow, 'data-unread', 'true');
  await expectAttribute(page.getByTestId('message-list'), 'data-total', '1');

  const multi = await sendMail(engine.smtpPort, multipartMail().options);
  const second = await sendMail(engine.smtpPort, plainMail({ subject: 'Live arrival two', from: 'Dora <dora@example.test>' }));
  await row(page, second.id).waitFor({ state: 'visible' });
  await expectAttribute(page.getByTestId('message-list'), 'data-total', '3');
  // Newest first.
  await waitFor(async () => (await rowIds(page)).join() === [second.id, multi.id, first.id].join(), {
    message: 'rows are not newest first',
  });
  // The multipart fixture has a PDF attachment: its row carries the mark; a plain one does not.
  await row(page, multi.id).locator('.attachment-mark').waitFor();
  assert.equal(await firstRow.locator('.attachment-mark').count(), 0, 'a plain message has no .attachment-mark');
  // The "All" inbox counts the three unread messages.
  await expectText(page.locator('[data-testid="inbox-item"][data-inbox=""] .unread-count'), /^\s*3\s*$/);

  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
  await screenshot(page, 'list-with-mail');
});

uiTest('opening a message shows it and marks it read; action-unread marks it unread again', async ({ engine, page }) => {
  const [msg] = await sendSeveral(engine, ['Read me please']);
  await openUI(page, engine);
  const r = row(page, msg.id);
  await expectAttribute(r, 'data-unread', 'true');

  await openMessage(page, msg.id);
  await expectText(page.getByTestId('message-subject'), 'Read me please');
  await expectAttribute(r, 'aria-selected', 'true');
  await expectAttribute(r, 'data-unread', 'false', { message: 'opening a message did not mark its row read' });
  // Read status from the list (GET /api/v1/message/{ID} would itself mark it read).
  const readInApi = async () => (await api(engine, '/api/v1/messages')).json?.messages?.find((m) => m.ID === msg.id)?.Read;
  await waitFor(async () => (await readInApi()) === true, { message: 'API: not read after opening' });

  await page.getByTestId('action-unread').click();
  await expectAttribute(r, 'data-unread', 'true', { message: 'action-unread did not mark the row unread' });
  await waitFor(async () => (await readInApi()) === false, { message: 'API: message still read after action-unread' });
  await expectText(page.locator('[data-testid="inbox-item"][data-inbox=""] .unread-count'), /^\s*1\s*$/);
});

uiTest('keyboard: j opens the next (older) message, k the previous one', async ({ engine, page }) => {
  const [a, b, c] = await sendSeveral(engine, ['Keyboard A', 'Keyboard B', 'Keyboard C']);
  await openUI(page, engine);
  await expectCount(page.getByTestId('message-row'), 3);
  assert.deepEqual(await rowIds(page), [c.id, b.id, a.id], 'rows are newest first');

  await openMessage(page, c.id);
  const view = page.getByTestId('message-view');
  await page.keyboard.press('j');
  await expectAttribute(view, 'data-id', b.id, { message: 'j from the newest did not show the second message' });
  await expectAttribute(row(page, b.id), 'aria-selected', 'true');
  await expectText(page.getByTestId('message-subject'), 'Keyboard B');
  await page.keyboard.press('j');
  await expectAttribute(view, 'data-id', a.id, { message: 'j did not move on to the third message' });
  await page.keyboard.press('k');
  await expectAttribute(view, 'data-id', b.id, { message: 'k did not move back' });
  await expectAttribute(row(page, a.id), 'aria-selected', 'false');
});

uiTest('search narrows the list as you type', async ({ engine, page }) => {
  await sendSeveral(engine, ['Quarterly report', 'Lunch on Friday', 'Password reset']);
  const hits = [];
  for (const [i, subject] of ['Kumquat delivery', 'Your kumquat order', 'Re: kumquats'].entries()) {
    hits.push(await sendMail(engine.smtpPort, plainMail({ subject, text: `Order ${i}: fresh kumquat from the market.\n` })));
  }
  hits.push(await sendMail(engine.smtpPort, plainMail({ subject: 'Body only', text: 'Nothing about fruit… except one kumquat.\n' })));
  await openUI(page, engine);
  await expectAttribute(page.getByTestId('message-list'), 'data-total', '7');

  const input = page.getByTestId('search-input');
  await input.click();
  // Typed key by key, no Enter: results must come as you type.
  await input.pressSequentially('kumquat', { delay: 60 });
  await expectAttribute(page.getByTestId('message-list'), 'data-total', String(hits.length), {
    message: 'typing "kumquat" (no Enter) did not narrow message-list data-total',
  });
  await waitFor(async () => (await rowIds(page)).sort().join() === hits.map((h) => h.id).sort().join(), {
    message: 'the rows shown are not exactly the kumquat messages',
  });

  // A field query narrows further.
  await input.fill('subject:delivery');
  await waitFor(async () => (await rowIds(page)).join() === hits[0].id, { message: 'subject:delivery did not leave one row' });

  // Clearing the box brings every message back.
  await input.fill('');
  await expectAttribute(page.getByTestId('message-list'), 'data-total', '7', { message: 'clearing the search did not restore the list' });
  await expectCount(page.getByTestId('message-row'), 7);
});

uiTest('delete removes the row and the message', async ({ engine, page }) => {
  const [keep, doomed] = await sendSeveral(engine, ['Keep me', 'Delete me']);
  await openUI(page, engine);
  await expectCount(page.getByTestId('message-row'), 2);

  await openMessage(page, doomed.id);
  await page.getByTestId('action-delete').click();
  await expectCount(row(page, doomed.id), 0, { message: 'the deleted row is still in the list' });
  await expectCount(page.getByTestId('message-row'), 1);
  await expectAttribute(page.getByTestId('message-list'), 'data-total', '1');

  const gone = await api(engine, `/api/v1/message/${doomed.id}`);
  assert.equal(gone.status, 404, 'API: the deleted message is still there');
  const list = await api(engine, '/api/v1/messages');
  assert.deepEqual(
    list.json.messages.map((m) => m.ID),
    [keep.id],
    'API: only the kept message remains',
  );
  // The view does not keep showing the deleted message.
  await waitFor(
    async () => !(await page.getByTestId('message-view').evaluateAll((v) => v.map((e) => e.getAttribute('data-id')))).includes(doomed.id),
    { message: 'testid=message-view still shows the deleted message' },
  );
});
