// postmark.test.mjs - Postmark's email API through the real SDK (npm postmark's
// ServerClient, pinned in package.json), its host pointed at a real `pigeonhole
// serve`: one message and a batch stored as sent, files byte for byte, the
// envelope's Api record, a validation error and the missing token as the SDK
// surfaces them; templated sends (sendEmailWithTemplate, sendEmailBatchWithTemplates)
// rendered from --provider-templates.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import postmark from 'postmark';

import { startEngine } from '../../ui/tests/harness.mjs';
import { assertApiRecord, assertFiles, files, storedMessage } from './provider-mail.mjs';

const TOKEN = '0f3c9a2e-1b4d-4c6e-8f00-123456789abc';
let engine;
let client;
let templates;

before(async () => {
  // Copies of the app's Postmark templates: one by alias, one by numeric ID.
  templates = await mkdtemp(join(tmpdir(), 'pigeonhole-postmark-templates-'));
  await writeFile(join(templates, 'receipt.subject'), 'Postmark receipt {{order}}');
  await writeFile(join(templates, 'receipt.html'), '<p>{{name}}: {{#each items}}{{this}};{{/each}}</p>');
  await writeFile(join(templates, 'receipt.txt'), 'Thanks, {{name}}');
  await writeFile(join(templates, '31337.subject'), 'Postmark template {{order}}');
  await writeFile(join(templates, '31337.txt'), 'Order {{order}}');
  engine = await startEngine({ args: ['--provider-templates', templates] });
  // The one setting an app changes: where the client sends (and plain HTTP).
  client = new postmark.ServerClient(TOKEN, { requestHost: `127.0.0.1:${engine.httpPort}`, useHttps: false });
});
after(async () => {
  await engine?.stop();
  if (templates) await rm(templates, { recursive: true, force: true });
});

test('templated sends are rendered from their TemplateModel, by alias or ID, alone and in a batch', async () => {
  const sent = await client.sendEmailWithTemplate({
    From: 'shop@example.test',
    To: 'ann@example.test',
    TemplateAlias: 'receipt',
    TemplateModel: { order: 11, name: 'Ann <3', items: ['tea', 'cake'] },
  });
  assert.equal(sent.ErrorCode, 0);
  const receipt = await storedMessage(engine, 'Postmark receipt 11');
  assert.match(receipt.HTML, /<p>Ann &lt;3: tea;cake;<\/p>/);
  assert.match(receipt.Text, /^Thanks, Ann <3/);

  const batch = await client.sendEmailBatchWithTemplates([
    { From: 'shop@example.test', To: 'bob@example.test', TemplateId: 31337, TemplateModel: { order: 12 } },
    { From: 'shop@example.test', To: 'cy@example.test', TemplateAlias: 'missing', TemplateModel: {} },
  ]);
  assert.equal(batch[0].ErrorCode, 0);
  assert.equal(batch[1].ErrorCode, 1101);
  assert.match(batch[1].Message, /add missing\.html/);
  assert.match((await storedMessage(engine, 'Postmark template 12')).Text, /^Order 12/);
});

test('a message with an inline image and an attachment is stored as sent', async () => {
  const { png, pdf } = files();
  const sent = await client.sendEmail({
    From: 'Shop <shop@example.test>',
    To: 'Ann <ann@example.test>',
    Cc: 'cc@example.test',
    Bcc: 'hidden@example.test',
    Subject: 'Your order via Postmark',
    TextBody: 'Thanks for your order',
    HtmlBody: '<p>Thanks <img src="cid:logo"></p>',
    ReplyTo: 'help@example.test',
    Tag: 'orders',
    Metadata: { order: '42' },
    Headers: [{ Name: 'X-Campaign', Value: 'spring' }],
    Attachments: [
      { Name: 'logo.png', Content: png.toString('base64'), ContentType: 'image/png', ContentID: 'cid:logo' },
      { Name: 'invoice.pdf', Content: pdf.toString('base64'), ContentType: 'application/pdf' },
    ],
    MessageStream: 'outbound',
  });
  assert.equal(sent.ErrorCode, 0);
  assert.equal(sent.Message, 'OK');
  assert.equal(sent.To, 'Ann <ann@example.test>');
  assert.match(sent.MessageID, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(!Number.isNaN(Date.parse(sent.SubmittedAt)));

  const message = await storedMessage(engine, 'Your order via Postmark');
  assert.deepEqual(message.From, { Name: 'Shop', Address: 'shop@example.test' });
  assert.deepEqual(message.Bcc, []);
  assert.deepEqual(message.Tags, ['orders']);
  await assertFiles(engine, message, { png, pdf });
  const envelope = await assertApiRecord(engine, message, {
    provider: 'postmark',
    providerMessageId: sent.MessageID,
    inbox: (await storedMessage(engine, 'Your order via Postmark')).Username,
    secret: TOKEN,
    rcptTo: ['ann@example.test', 'cc@example.test', 'hidden@example.test'],
  });
  assert.match(envelope.AuthUser, /^postmark:key-[0-9a-f]{8}$/);
});

test('a batch answers each message on its own', async () => {
  const answers = await client.sendEmailBatch([
    { From: 'shop@example.test', To: 'ann@example.test', Subject: 'Batch one', TextBody: 'one' },
    { From: 'not an address', To: 'ann@example.test', Subject: 'Batch two', TextBody: 'two' },
  ]);
  assert.equal(answers.length, 2);
  assert.equal(answers[0].ErrorCode, 0);
  assert.equal(answers[1].ErrorCode, 300);
  assert.equal(answers[1].Message, "Invalid 'From' address: 'not an address'.");
  await storedMessage(engine, 'Batch one');
});

test('an invalid recipient is Postmark’s 422 as the SDK throws it', async () => {
  await assert.rejects(
    client.sendEmail({ From: 'shop@example.test', To: 'nope', Subject: 'Invalid', TextBody: 'x' }),
    (err) => {
      assert.equal(err.statusCode, 422);
      assert.equal(err.code, 300);
      assert.equal(err.message, "Invalid 'To' address: 'nope'.");
      return true;
    },
  );
});

test('without the server token header the answer is Postmark’s 401', async () => {
  // The SDK refuses to be built without a token, so the request is made by hand.
  const res = await fetch(`${engine.url}/email`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ From: 'shop@example.test', To: 'ann@example.test', Subject: 'No token', TextBody: 'x' }),
  });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).ErrorCode, 10);
});
