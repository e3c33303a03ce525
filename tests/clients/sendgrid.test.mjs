// sendgrid.test.mjs - SendGrid's v3 Mail Send API through the real SDK
// (@sendgrid/mail over @sendgrid/client, pinned in package.json), its base URL
// pointed at a real `pigeonhole serve`: the stored message and its files byte for
// byte, a dynamic template rendered from --provider-templates, the envelope's Api record, a validation error and the missing key as the
// SDK surfaces them, a 50 MB request, a simulator bounce (the DSN beside the original), a
// `disconnect` rule (the SDK sees a network error, no answer). The engine runs with
// --provider-keys: the key's mail lands in the inbox the file maps it to, and any other
// key is refused.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import http from 'node:http';

import sgClient from '@sendgrid/client';
import sgMail from '@sendgrid/mail';

import { startEngine } from '../../ui/tests/harness.mjs';
import { assertApiRecord, assertFiles, files, storedMessage } from './provider-mail.mjs';

const KEY = 'SG.e2ekeyid.the-secret-part-of-the-key';
let engine;
let keysDir;

before(async () => {
  keysDir = await mkdtemp(join(tmpdir(), 'pigeonhole-keys-'));
  const keys = join(keysDir, 'keys.toml');
  await writeFile(keys, `[[key]]\nprovider = "sendgrid"\nkey = "${KEY}"\ninbox = "shop"\n`);
  // A copy of the app's dynamic template, as exported from SendGrid.
  const templates = join(keysDir, 'templates');
  await mkdir(templates);
  await writeFile(join(templates, 'd-0123456789abcdef.subject'), 'Welcome, {{{first_name}}}');
  await writeFile(join(templates, 'd-0123456789abcdef.html'), '<p>Hi {{first_name}}</p>{{#each items}}<li>{{this}}</li>{{/each}}');
  engine = await startEngine({ args: ['--provider-keys', keys, '--provider-templates', templates] });
  const client = new sgClient.Client();
  client.setApiKey(KEY);
  // The one setting an app changes (after setApiKey, which sets the region's URL).
  client.setDefaultRequest('baseUrl', engine.url);
  sgMail.setClient(client);
});
after(async () => {
  await engine?.stop();
  await rm(keysDir, { recursive: true, force: true });
});

test('a dynamic template is rendered with each personalization\'s data', async () => {
  const [response] = await sgMail.send({
    personalizations: [
      { to: 'ann@example.test', dynamicTemplateData: { first_name: 'Ann & Co', items: ['tea', 'cake'] } },
      { to: 'bob@example.test', dynamicTemplateData: { first_name: 'Bob', items: [] } },
    ],
    from: 'shop@example.test',
    templateId: 'd-0123456789abcdef',
  });
  assert.equal(response.statusCode, 202);
  const ann = await storedMessage(engine, 'Welcome, Ann & Co');
  assert.match(ann.HTML, /<p>Hi Ann &amp; Co<\/p><li>tea<\/li><li>cake<\/li>/);
  const bob = await storedMessage(engine, 'Welcome, Bob');
  assert.deepEqual(bob.To.map((to) => to.Address), ['bob@example.test']);

  // A template the folder has no copy of: SendGrid's error shape, as the SDK raises it.
  await assert.rejects(
    sgMail.send({ to: 'ann@example.test', from: 'shop@example.test', templateId: 'd-unknown' }),
    (err) => {
      assert.equal(err.code, 400);
      assert.equal(err.response.body.errors[0].field, 'template_id');
      assert.match(err.response.body.errors[0].message, /add d-unknown\.html/);
      return true;
    },
  );
});

test('a message with an inline image and an attachment is stored as sent', async () => {
  const { png, pdf } = files();
  const [response] = await sgMail.send({
    to: { email: 'ann@example.test', name: 'Ann' },
    cc: 'cc@example.test',
    bcc: 'hidden@example.test',
    from: { email: 'shop@example.test', name: 'Shop' },
    replyTo: 'help@example.test',
    subject: 'Your order via SendGrid',
    text: 'Thanks for your order',
    html: '<p>Thanks <img src="cid:logo"></p>',
    attachments: [
      { content: png.toString('base64'), filename: 'logo.png', type: 'image/png', disposition: 'inline', content_id: 'logo' },
      { content: pdf.toString('base64'), filename: 'invoice.pdf', type: 'application/pdf', disposition: 'attachment' },
    ],
    categories: ['orders'],
    customArgs: { order: '42' },
    headers: { 'X-Campaign': 'spring' },
  });
  assert.equal(response.statusCode, 202);
  const messageId = response.headers['x-message-id'];
  assert.match(messageId, /^[A-Za-z0-9_-]{22}$/);

  const message = await storedMessage(engine, 'Your order via SendGrid');
  assert.deepEqual(message.From, { Name: 'Shop', Address: 'shop@example.test' });
  assert.deepEqual(message.To, [{ Name: 'Ann', Address: 'ann@example.test' }]);
  assert.deepEqual(message.Bcc, [], 'no Bcc header in delivered mail');
  assert.deepEqual(message.Tags, ['orders']);
  assert.equal(message.Text.trim(), 'Thanks for your order');
  await assertFiles(engine, message, { png, pdf });
  await assertApiRecord(engine, message, {
    provider: 'sendgrid',
    providerMessageId: messageId,
    inbox: 'shop',
    secret: 'the-secret-part',
    rcptTo: ['ann@example.test', 'cc@example.test', 'hidden@example.test'],
  });
});

test('an invalid from address is SendGrid’s 400 as the SDK throws it', async () => {
  await assert.rejects(
    sgMail.send({ to: 'ann@example.test', from: 'not-an-address', subject: 'Invalid from', text: 'x' }),
    (err) => {
      assert.equal(err.code, 400);
      assert.deepEqual(err.response.body, {
        errors: [{ message: 'The from email does not contain a valid address.', field: 'from.email', help: null }],
      });
      return true;
    },
  );
});

test('without an API key, or with one not in the keys file, the SDK gets SendGrid’s 401', async () => {
  const body = { personalizations: [{ to: [{ email: 'a@example.test' }] }], from: { email: 'b@example.test' }, subject: 'Refused', content: [{ type: 'text/plain', value: 'x' }] };
  for (const key of [null, 'SG.otherid.other-secret']) {
    const client = new sgClient.Client();
    if (key) client.setApiKey(key);
    client.setDefaultRequest('baseUrl', engine.url);
    await assert.rejects(client.request({ method: 'POST', url: '/v3/mail/send', body }), (err) => {
      assert.equal(err.code, 401, `key ${key}`);
      assert.equal(err.response.body.errors[0].message, 'The provided authorization grant is invalid, expired, or revoked');
      return true;
    });
  }
  const page = await (await fetch(`${engine.url}/api/v1/search?query=${encodeURIComponent('subject:"Refused"')}`)).json();
  assert.equal(page.messages.length, 0);
});

test('a 50 MB request gets SendGrid’s 413 after it is sent whole, not a broken pipe', async () => {
  const body = Buffer.alloc(50 * 1000 * 1000, 0x20);
  const answer = await new Promise((resolve, reject) => {
    const request = http.request(`${engine.url}/v3/mail/send`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'content-length': body.length },
    });
    request.on('response', (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    request.on('error', reject);
    request.end(body);
  });
  assert.equal(answer.status, 413);
  const error = JSON.parse(answer.body).errors[0];
  assert.match(error.message, /too large/);
  assert.equal(error.field, null);
});

test('a send to bounce@simulator.test is accepted, then a DSN to the sender lands in the same inbox', async () => {
  const [response] = await sgMail.send({ to: 'bounce@simulator.test', from: 'shop@example.test', subject: 'Bounce me', text: 'x' });
  assert.equal(response.statusCode, 202);
  const original = await storedMessage(engine, 'Bounce me');
  // The wait API answers with the next message after the original: the DSN.
  const dsn = await (await fetch(`${engine.url}/api/v1/wait?after=${original.ID}&timeout=10s`)).json();
  assert.equal(dsn.Subject, 'Undelivered Mail Returned to Sender');
  assert.equal(dsn.Username, 'shop', 'beside the original, in its inbox');
  const dsnEnvelope = await (await fetch(`${engine.url}/api/v1/message/${dsn.ID}/envelope`)).json();
  assert.equal(dsnEnvelope.MailFrom, '', 'a DSN has a null sender');
  assert.deepEqual(dsnEnvelope.RcptTo, ['shop@example.test']);
  const raw = await (await fetch(`${engine.url}/api/v1/message/${dsn.ID}/raw`)).text();
  assert.match(raw, /report-type=(")?delivery-status/);
  assert.match(raw, /Final-Recipient: rfc822; ?bounce@simulator\.test/);
  // The effect's line is added to the original's outcome once the DSN is stored.
  let envelope;
  for (let tries = 0; tries < 50; tries++) {
    envelope = await (await fetch(`${engine.url}/api/v1/message/${original.ID}/envelope`)).json();
    if (envelope.Simulation?.Effects.length) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(envelope.Simulation.Rule, 'bounce@simulator.test');
  assert.equal(envelope.Simulation.Action, 'bounce');
  assert.match(envelope.Simulation.Reply, /^202/);
  assert.equal(envelope.Simulation.Effects.length, 1, JSON.stringify(envelope.Simulation));
});

test('a disconnect rule drops the connection: the SDK sees a network error, not an HTTP status', async () => {
  const rules = '[[rule]]\nname = "drop"\nrecipient = "*@drop.test"\naction = "disconnect"\n';
  const put = await fetch(`${engine.url}/api/v1/rules`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ Rules: rules }),
  });
  assert.equal(put.status, 200);
  try {
    await assert.rejects(
      sgMail.send({ to: 'ann@drop.test', from: 'shop@example.test', subject: 'Dropped', text: 'x' }),
      (err) => {
        assert.equal(err.response, undefined, `an answer came: ${err.code} ${JSON.stringify(err.response?.body)}`);
        assert.ok(['ECONNRESET', 'EPIPE'].includes(err.code) || /socket hang up/.test(err.message), `${err.code}: ${err.message}`);
        return true;
      },
    );
  } finally {
    await fetch(`${engine.url}/api/v1/rules`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Rules: '' }),
    });
  }
  const page = await (await fetch(`${engine.url}/api/v1/search?query=${encodeURIComponent('subject:"Dropped"')}`)).json();
  assert.equal(page.messages.length, 0, 'nothing stored');
});
