// First run: the empty inbox says where to send mail (SMTP, and the base URL for each
// provider SDK), and its button sends a test message (POST /api/v1/send) that shows
// up in the list.

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
  // Each provider's one setting, with this engine's HTTP address.
  const providers = empty.getByTestId('provider-settings');
  await expectText(empty.locator('.http-address'), engine.url);
  for (const name of ['SendGrid', 'Postmark', 'Resend', 'Mailgun', 'Amazon SES']) {
    await expectText(providers, new RegExp(name));
  }
  await expectText(providers, new RegExp(`RESEND_BASE_URL=${engine.url.replace(/\./g, '\\.')}`));
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

uiTest('with POP3 on, the empty state gives a mail client its account settings', async ({ engine, page }) => {
  await openUI(page, engine);
  const empty = page.getByTestId('empty-state');
  await empty.waitFor({ state: 'visible' });
  const { json: intake } = await api(engine, '/api/v1/intake');
  const port = intake.POP3Address.split(':').pop();
  await expectText(empty.locator('.pop3-address'), new RegExp(`127\\.0\\.0\\.1:${port}$`));
  const clients = empty.getByTestId('mail-client-settings');
  for (const name of ['Thunderbird', 'Apple Mail', 'Outlook', 'mutt']) {
    await expectText(clients, new RegExp(name));
  }
  await expectText(clients, new RegExp(`pop://anyone@127\\.0\\.0\\.1:${port}/`));
}, { engine: { args: ['--pop3', '127.0.0.1:0'] } });

uiTest('with IMAP on, the settings are IMAP\'s (every inbox a folder)', async ({ engine, page }) => {
  await openUI(page, engine);
  const empty = page.getByTestId('empty-state');
  await empty.waitFor({ state: 'visible' });
  const { json: intake } = await api(engine, '/api/v1/intake');
  const port = intake.IMAPAddress.split(':').pop();
  await expectText(empty.locator('.imap-address'), new RegExp(`127\\.0\\.0\\.1:${port}$`));
  const clients = empty.getByTestId('mail-client-settings');
  await expectText(clients, new RegExp(`Incoming: IMAP, server 127\\.0\\.0\\.1, port ${port}`));
  await expectText(clients, new RegExp(`imap://anyone@127\\.0\\.0\\.1:${port}/`));
}, { engine: { args: ['--imap', '127.0.0.1:0', '--pop3', '127.0.0.1:0'] } });

uiTest('without POP3 the empty state gives no mail client settings', async ({ engine, page }) => {
  await openUI(page, engine);
  await page.getByTestId('empty-state').waitFor({ state: 'visible' });
  assert.equal(await page.getByTestId('mail-client-settings').count(), 0);
});
