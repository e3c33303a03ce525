// The Webhooks dialog: each provider's row with the key its app verifies with,
// copied as shown; Save sends the URLs and switches to the engine (PUT
// /api/v1/webhooks), which keeps them; Postmark, which does not sign, says so.
// Message webhooks: the command line's shown read-only, one added with a search,
// the signing secret, and each one's latest deliveries against a real receiver.

import assert from 'node:assert/strict';
import { after } from 'node:test';

import { api, openUI, plainMail, screenshot, sendMail, startRecorder, uiTest, waitFor } from './harness.mjs';

const receiver = await startRecorder();
after(() => receiver.close());

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

uiTest(
  'message webhooks: added with a search, signing secret shown, deliveries listed',
  async ({ engine, page }) => {
    await openUI(page, engine);
    await page.getByTestId('webhooks-button').click();
    const dialog = page.getByTestId('webhooks-dialog');
    await dialog.getByTestId('message-webhook-0').waitFor();
    const settings = (await api(engine, '/api/v1/webhooks')).json;
    assert.equal(await dialog.getByTestId('message-webhooks-secret').inputValue(), settings.MessageSigningSecret);
    assert.equal(await dialog.getByTestId('message-webhook-url-0').inputValue(), receiver.url('/cli'));
    assert.equal(await dialog.getByTestId('message-webhook-url-0').getAttribute('readonly'), '');
    assert.match(await dialog.getByTestId('message-webhook-0').innerText(), /From --webhook-url/);

    await dialog.getByTestId('message-webhook-add').click();
    await dialog.getByTestId('message-webhook-url-1').fill(receiver.url('/invoices'));
    await dialog.getByTestId('message-webhook-query-1').fill('subject:invoice');
    await dialog.getByTestId('webhooks-save').click();
    await waitFor(async () => !(await dialog.isVisible()), { message: 'the dialog did not close after Save' });
    const saved = (await api(engine, '/api/v1/webhooks')).json.MessageWebhooks;
    assert.deepEqual(
      saved.map((w) => [w.URL, w.Query, w.Enabled, w.CommandLine]),
      [
        [receiver.url('/cli'), '', true, true],
        [receiver.url('/invoices'), 'subject:invoice', true, false],
      ],
    );

    await sendMail(engine.smtpPort, plainMail({ subject: 'Invoice 7' }));
    await sendMail(engine.smtpPort, plainMail({ subject: 'Hello' }));
    await waitFor(() => receiver.requests.filter((r) => r.method === 'POST').length === 3, {
      timeout: 10_000,
      message: 'two deliveries to /cli and one to /invoices',
    });
    assert.equal(receiver.requests.filter((r) => r.url === '/invoices').length, 1);
    const delivered = async () => (await api(engine, '/api/v1/webhooks/log')).json.filter((d) => d.State === 'delivered');
    await waitFor(async () => (await delivered()).length === 3, { message: 'three deliveries logged as delivered' });
    await page.getByTestId('webhooks-button').click();
    const cli = dialog.getByTestId('message-webhook-deliveries-0');
    await waitFor(async () => (await cli.locator('li').count()) === 2, { message: 'two deliveries listed' });
    assert.match(await cli.innerText(), /delivered: HTTP 200 in \d+ ms, 1 attempt/);
    const invoices = dialog.getByTestId('message-webhook-deliveries-1');
    await waitFor(async () => (await invoices.locator('li').count()) === 1, { message: 'one delivery listed' });
    await screenshot(page, 'webhooks-dialog-messages');
  },
  { engine: { args: ['--webhook-url', receiver.url('/cli'), '--webhook-limit', '0'] } },
);
