// resend.test.mjs - Resend's email API through the real SDK (npm resend, pinned in
// package.json), its base URL pointed at a real `pigeonhole serve` through
// RESEND_BASE_URL: one email and a batch stored as sent, files byte for byte, the
// envelope's Api record, a templated send rendered from --provider-templates, a
// validation error, a refusing simulator address and the missing key as the SDK
// surfaces them.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { Resend } from 'resend';

import { startEngine } from '../../ui/tests/harness.mjs';
import { assertApiRecord, assertFiles, files, storedMessage } from './provider-mail.mjs';

const KEY = 're_e2eid_TheSecretPartOfTheKey';
let engine;
let resend;
let templates;

before(async () => {
  // A copy of the app's Resend template, its variables written as Resend writes them.
  templates = await mkdtemp(join(tmpdir(), 'pigeonhole-resend-templates-'));
  await writeFile(join(templates, 'order-confirmation.subject'), 'Resend order {{{PRODUCT}}}');
  await writeFile(join(templates, 'order-confirmation.html'), '<p>{{{PRODUCT}}} costs {{{PRICE}}}</p>');
  engine = await startEngine({ args: ['--provider-templates', templates] });
  // The one setting an app changes: the SDK reads it when the client is made.
  process.env.RESEND_BASE_URL = engine.url;
  resend = new Resend(KEY);
});
after(async () => {
  await engine?.stop();
  if (templates) await rm(templates, { recursive: true, force: true });
});

test('an email with an inline image and an attachment is stored as sent', async () => {
  const { png, pdf } = files();
  const { data, error } = await resend.emails.send({
    from: 'Shop <shop@example.test>',
    to: ['Ann <ann@example.test>'],
    cc: 'cc@example.test',
    bcc: ['hidden@example.test'],
    replyTo: 'help@example.test',
    subject: 'Your order via Resend',
    text: 'Thanks for your order',
    html: '<p>Thanks <img src="cid:logo"></p>',
    headers: { 'X-Campaign': 'spring' },
    attachments: [
      { filename: 'logo.png', content: png, contentType: 'image/png', contentId: 'logo' },
      { filename: 'invoice.pdf', content: pdf.toString('base64') },
    ],
    tags: [{ name: 'category', value: 'orders' }],
  });
  assert.equal(error, null, JSON.stringify(error));
  assert.match(data.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

  const message = await storedMessage(engine, 'Your order via Resend');
  assert.deepEqual(message.From, { Name: 'Shop', Address: 'shop@example.test' });
  assert.deepEqual(message.Bcc, []);
  assert.deepEqual(message.Tags, ['orders']);
  await assertFiles(engine, message, { png, pdf });
  await assertApiRecord(engine, message, {
    provider: 'resend',
    providerMessageId: data.id,
    inbox: 'resend:re_e2eid',
    secret: 'TheSecretPart',
    rcptTo: ['ann@example.test', 'cc@example.test', 'hidden@example.test'],
  });
});

test('a templated send is rendered from its variables', async () => {
  const { data, error } = await resend.emails.send({
    from: 'shop@example.test',
    to: 'ann@example.test',
    template: { id: 'order-confirmation', variables: { PRODUCT: 'Vintage Macintosh', PRICE: 499 } },
  });
  assert.equal(error, null, JSON.stringify(error));
  assert.ok(data.id);
  const message = await storedMessage(engine, 'Resend order Vintage Macintosh');
  assert.equal(message.HTML.trim(), '<p>Vintage Macintosh costs 499</p>');

  const unknown = await resend.emails.send({ from: 'shop@example.test', to: 'ann@example.test', template: { id: 'nope' } });
  assert.equal(unknown.error?.name, 'validation_error');
  assert.match(unknown.error.message, /add nope\.html/);
});

test('a batch answers an ID per email', async () => {
  const { data, error } = await resend.batch.send([
    { from: 'shop@example.test', to: 'ann@example.test', subject: 'Resend batch one', text: 'one' },
    { from: 'shop@example.test', to: 'bob@example.test', subject: 'Resend batch two', text: 'two' },
  ]);
  assert.equal(error, null, JSON.stringify(error));
  assert.equal(data.data.length, 2);
  await storedMessage(engine, 'Resend batch one');
  await storedMessage(engine, 'Resend batch two');
});

test('an invalid from address is Resend’s 422 as the SDK returns it', async () => {
  const { data, error } = await resend.emails.send({ from: 'nope', to: 'ann@example.test', subject: 'Invalid', text: 'x' });
  assert.equal(data, null);
  assert.equal(error.statusCode, 422);
  assert.equal(error.name, 'invalid_from_address');
});

test('without an API key the answer is Resend’s 401', async () => {
  // The SDK refuses to be built without a key, so the request is made by hand.
  const res = await fetch(`${engine.url}/emails`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from: 'shop@example.test', to: 'ann@example.test', subject: 'No key', text: 'x' }),
  });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).name, 'missing_api_key');
});

test('a simulator address refused for good is Resend’s 422 as the SDK returns it, and nothing is stored', async () => {
  const { data, error } = await resend.emails.send({ from: 'shop@example.test', to: 'suppressed@simulator.test', subject: 'Suppressed', text: 'x' });
  assert.equal(data, null);
  assert.equal(error.statusCode, 422);
  assert.match(error.message, /^suppressed@simulator\.test: 550 5\.7\.1/);
  const page = await (await fetch(`${engine.url}/api/v1/search?query=${encodeURIComponent('subject:"Suppressed"')}`)).json();
  assert.equal(page.messages.length, 0);
});
