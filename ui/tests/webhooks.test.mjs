// The Webhooks dialog: each provider's row with the key its app verifies with,
// copied as shown; Save sends the URLs and switches to the engine (PUT
// /api/v1/webhooks), which keeps them; Postmark, which does not sign, says so.

import assert from 'node:assert/strict';

import { api, openUI, screenshot, uiTest, waitFor } from './harness.mjs';

uiTest('the Webhooks dialog shows the keys and saves the endpoints', async ({ engine, page }) => {
  await openUI(page, engine);
  await page.getByTestId('webhooks-button').click();
  const dialog = page.getByTestId('webhooks-dialog');
  await dialog.getByTestId('webhook-sendgrid').waitFor();

  const settings = (await api(engine, '/api/v1/webhooks')).json;
  const shown = (provider) => dialog.getByTestId(`webhook-key-${provider}`).inputValue();
  for (const provider of ['sendgrid', 'mailgun', 'ses', 'resend']) {
    const expected = settings.Webhooks.find((w) => w.Provider === provider).VerificationKey;
    assert.equal(await shown(provider), expected, `${provider}'s verification key`);
  }
  assert.equal(await dialog.getByTestId('webhook-key-postmark').count(), 0);
  assert.match(await dialog.getByTestId('webhook-postmark').innerText(), /Unsigned/);
  assert.equal(await dialog.getByTestId('webhook-key-sendgrid').getAttribute('readonly'), '');

  await dialog.getByTestId('webhook-url-sendgrid').fill('http://127.0.0.1:3999/sendgrid');
  await dialog.getByTestId('webhook-enabled-sendgrid').check();
  await dialog.getByTestId('webhook-url-resend').fill('http://127.0.0.1:3999/resend');
  await screenshot(page, 'webhooks-dialog');
  await dialog.getByTestId('webhooks-save').click();
  await waitFor(async () => !(await dialog.isVisible()), { message: 'the dialog did not close after Save' });

  const saved = (await api(engine, '/api/v1/webhooks')).json;
  const entry = (provider) => saved.Webhooks.find((w) => w.Provider === provider);
  assert.deepEqual([entry('sendgrid').URL, entry('sendgrid').Enabled], ['http://127.0.0.1:3999/sendgrid', true]);
  assert.deepEqual([entry('resend').URL, entry('resend').Enabled], ['http://127.0.0.1:3999/resend', false]);
  assert.equal(entry('sendgrid').VerificationKey, settings.Webhooks[0].VerificationKey, 'the key stays');
});

uiTest('a URL the engine refuses is explained and nothing is saved', async ({ engine, page }) => {
  await openUI(page, engine);
  await page.getByTestId('webhooks-button').click();
  const dialog = page.getByTestId('webhooks-dialog');
  await dialog.getByTestId('webhook-url-mailgun').fill('ftp://example.test/hook');
  await dialog.getByTestId('webhooks-save').click();
  const error = dialog.getByTestId('webhooks-error');
  await error.waitFor();
  assert.match(await error.innerText(), /not an http\(s\) URL/);
  const saved = (await api(engine, '/api/v1/webhooks')).json;
  assert.equal(saved.Webhooks.find((w) => w.Provider === 'mailgun').URL, '');
});
