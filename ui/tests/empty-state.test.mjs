// First run: the empty inbox says where to send mail, and its button sends a test
// message (POST /api/v1/send) that shows up in the list.

import assert from 'node:assert/strict';

import { api, expectAttribute, expectText, openUI, screenshot, uiTest, waitFor } from './harness.mjs';

uiTest('empty state shows the SMTP address; send-test creates a message', async ({ engine, page }) => {
  await openUI(page, engine);
  const empty = page.getByTestId('empty-state');
  await empty.waitFor({ state: 'visible' });
  await expectText(empty.locator('.smtp-address'), new RegExp(`(127\\.0\\.0\\.1|localhost):${engine.smtpPort}\\b`), {
    message: `empty-state .smtp-address does not show the SMTP listener 127.0.0.1:${engine.smtpPort}`,
  });
  assert.equal(await page.getByTestId('message-row').count(), 0);
  await screenshot(page, 'empty-state');

  await empty.getByTestId('send-test').click();
  await page.getByTestId('message-row').first().waitFor({ state: 'visible' });
  await expectAttribute(page.getByTestId('message-list'), 'data-total', '1');
  const list = await waitFor(async () => {
    const r = await api(engine, '/api/v1/messages');
    return r.json?.total === 1 && r.json;
  }, { message: 'API: send-test did not store exactly one message' });
  await expectAttribute(page.getByTestId('message-row').first(), 'data-id', list.messages[0].ID);
  await empty.waitFor({ state: 'hidden' });
});
