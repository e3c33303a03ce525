// mailgun.test.mjs - Pigeonhole as Mailgun for the real SDK: npm `mailgun.js` (with
// `form-data`, as its README sets it up), unchanged but for its `url`, sends through
// `POST /v3/{domain}/messages` and `/messages.mime` of the real `pigeonhole serve`.
// Checked: Mailgun's answer shape, the stored message (recipients, headers, tags,
// the inbox named after the domain), attachments and inline images byte-exact after
// decoding, Mailgun's validation error and its 401 for a missing key; a stored
// template rendered from --provider-templates with t:variables.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import formData from 'form-data';
import Mailgun from 'mailgun.js';

import { api, makePdf, makePng, startEngine } from '../../ui/tests/harness.mjs';
import { partBytes, storedWithEnvelope } from './provider-mail.mjs';

const DOMAIN = 'mg.example.test';

let engine;
let mg;
let templates;

before(async () => {
  templates = await mkdtemp(join(tmpdir(), 'pigeonhole-mailgun-templates-'));
  await writeFile(join(templates, 'order-shipped.subject'), 'Mailgun shipped {{order}}');
  await writeFile(join(templates, 'order-shipped.html'), '<p>{{name}}, order {{order}} is on its way</p>');
  engine = await startEngine({ args: ['--provider-templates', templates] });
  mg = new Mailgun(formData).client({ username: 'api', key: 'key-0123456789abcdef', url: engine.url });
});
after(async () => {
  await engine?.stop();
  if (templates) await rm(templates, { recursive: true, force: true });
});

const stored = (subject) => storedWithEnvelope(engine, subject);

describe('mailgun.js', () => {
  test('messages.create with a template: rendered from t:variables', async () => {
    const answer = await mg.messages.create(DOMAIN, {
      from: 'shop@mg.example.test',
      to: 'ann@example.test',
      template: 'order-shipped',
      't:variables': JSON.stringify({ name: 'Ann & Co', order: 77 }),
    });
    assert.equal(answer.status, 200);
    const { message } = await stored('Mailgun shipped 77');
    assert.match(message.HTML, /<p>Ann &amp; Co, order 77 is on its way<\/p>/);
  });

  test('messages.create: fields, attachment and inline image byte-exact, tags, variables', async () => {
    const png = makePng(3, 2);
    const pdf = makePdf('Mailgun invoice');
    const answer = await mg.messages.create(DOMAIN, {
      from: 'Shop <shop@mg.example.test>',
      to: ['Ann <ann@example.test>', 'bob@example.test'],
      cc: 'cc@example.test',
      bcc: 'hidden@example.test',
      subject: 'Mailgun welcome',
      text: 'Hello from Mailgun',
      html: '<p>Hello <img src="cid:logo.png"></p>',
      attachment: [{ filename: 'invoice.pdf', data: pdf }],
      inline: [{ filename: 'logo.png', data: png }],
      'h:X-Campaign': 'spring',
      'v:user-id': '42',
      'o:tag': ['welcome', 'onboarding'],
      'o:testmode': 'yes',
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.message, 'Queued. Thank you.');
    assert.match(answer.id, /^<\d{14}\.[0-9a-f]{16}@mg\.example\.test>$/);

    const { id, message, envelope, headers } = await stored('Mailgun welcome');
    assert.deepEqual(envelope.RcptTo, ['ann@example.test', 'bob@example.test', 'cc@example.test', 'hidden@example.test']);
    assert.equal(envelope.MailFrom, 'shop@mg.example.test');
    assert.equal(envelope.AuthUser, `mailgun:${DOMAIN}`);
    assert.equal(envelope.Helo, 'mailgun-api');
    assert.equal(envelope.Api.Provider, 'mailgun');
    assert.equal(envelope.Api.ProviderMessageId, answer.id);
    assert.match(envelope.Api.Request, /^POST \/v3\/mg\.example\.test\/messages/);
    assert.doesNotMatch(envelope.Api.Request, /key-0123456789abcdef/, 'the key is masked');
    assert.deepEqual(message.Tags, ['onboarding', 'welcome']);
    assert.deepEqual(headers['X-Campaign'], ['spring']);
    assert.deepEqual(headers['X-Mailgun-Tag'], ['welcome', 'onboarding'], 'one header per tag, as Mailgun delivers them');
    assert.deepEqual(headers['X-Mailgun-Variables'], ['{"user-id":"42"}']);
    assert.deepEqual(headers['X-Mailgun-Drop-Message'], ['yes']);
    assert.equal(message.MessageID, answer.id.slice(1, -1));
    assert.equal(message.Text.trim(), 'Hello from Mailgun');

    assert.equal(message.Inline.length, 1);
    assert.equal(message.Inline[0].ContentID, 'logo.png');
    assert.deepEqual(await partBytes(engine, id, message.Inline[0].PartID), png);
    assert.equal(message.Attachments.length, 1);
    assert.equal(message.Attachments[0].FileName, 'invoice.pdf');
    assert.deepEqual(await partBytes(engine, id, message.Attachments[0].PartID), pdf);
  });

  test('messages.create with a MIME message goes to messages.mime and is stored as given', async () => {
    const mime = Buffer.from('From: app@mg.example.test\r\nTo: x@example.test\r\nSubject: Mailgun MIME\r\n\r\nraw body\r\n');
    const answer = await mg.messages.create(DOMAIN, { to: 'y@example.test, z@example.test', message: mime });
    assert.equal(answer.status, 200);
    assert.equal(answer.message, 'Queued. Thank you.');
    const { id, envelope } = await stored('Mailgun MIME');
    assert.deepEqual(envelope.RcptTo, ['y@example.test', 'z@example.test']);
    assert.deepEqual((await api(engine, `/api/v1/message/${id}/raw`)).bytes, mime);
  });

  test('a missing from is Mailgun\'s 400 and stores nothing', async () => {
    const before = (await api(engine, '/api/v1/messages')).json.total;
    await assert.rejects(mg.messages.create(DOMAIN, { to: 'a@example.test', subject: 'no sender', text: 'x' }), (err) => {
      assert.equal(err.status, 400);
      assert.equal(err.details, 'from parameter is missing');
      return true;
    });
    assert.equal((await api(engine, '/api/v1/messages')).json.total, before);
  });

  test('a request without the api key is Mailgun\'s 401 Forbidden; a form without it never reaches Mailgun\'s route', async () => {
    const url = `${engine.url}/v3/${DOMAIN}/messages`;
    // No Content-Type: past the guard, refused by the route for want of a key.
    const res = await fetch(url, { method: 'POST', body: new Uint8Array(Buffer.from('from=a%40example.test')) });
    assert.equal(res.status, 401);
    assert.equal(await res.text(), 'Forbidden');
    // A form body without Mailgun's credential is what a cross-site page can post:
    // the guard refuses it before the route.
    const form = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'from=a%40example.test&to=b%40example.test&text=x',
    });
    assert.equal(form.status, 415);
    // The UI's page at / is still served, beside SES's POST /.
    const page = await fetch(`${engine.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /text\/html/);
  });

  test('a request over Mailgun\'s 25 MB is its 413, and nothing is stored', async () => {
    const total = (await api(engine, '/api/v1/messages')).json.total;
    await assert.rejects(
      mg.messages.create(DOMAIN, {
        from: 'a@mg.example.test',
        to: 'b@example.test',
        subject: 'Mailgun too large',
        text: 'x',
        attachment: [{ filename: 'big.bin', data: Buffer.alloc(26 * 1024 * 1024, 7) }],
      }),
      (err) => {
        assert.equal(err.status, 413);
        return true;
      },
    );
    assert.equal((await api(engine, '/api/v1/messages')).json.total, total);
  });

  test('a urlencoded form (Mailgun\'s curl examples) is taken too', async () => {
    const res = await fetch(`${engine.url}/v3/${DOMAIN}/messages`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('api:key-0123456789abcdef').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'from=a%40example.test&to=b%40example.test&to=c%40example.test&subject=Mailgun+form&text=x',
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal((await res.json()).message, 'Queued. Thank you.');
    const { envelope } = await stored('Mailgun form');
    assert.deepEqual(envelope.RcptTo, ['b@example.test', 'c@example.test']);
  });
});
