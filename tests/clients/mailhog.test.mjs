// mailhog.test.mjs - the MailHog API subset against the real `pigeonhole serve`, mail
// over real SMTP: as cypress-mailhog (2.x) reads it (`/api/v2/messages?limit=N`,
// `/api/v2/search`, `DELETE /api/v1/messages`, `GET /api/v2/jim`, the fields its
// commands read, used the way it uses them; cypress-mailhog itself needs the Cypress
// binary, so its reads are done here), and through the npm `mailhog` client itself,
// every method it has.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import mailhogClient from 'mailhog';

import { makePdf, sendMail, startEngine, waitFor } from '../../ui/tests/harness.mjs';

describe('the MailHog API as cypress-mailhog reads it', () => {
  let engine;
  before(async () => {
    engine = await startEngine();
  });
  after(async () => {
    await engine?.stop();
  });

  /** A request as cypress-mailhog makes it: JSON bodies parsed, `text/json` too. */
  async function mailhog(path, init) {
    const response = await fetch(`${engine.url}/api${path}`, init);
    const type = response.headers.get('content-type') ?? '';
    const text = await response.text();
    return { status: response.status, type, body: type.includes('json') ? JSON.parse(text) : text };
  }
  const recipients = (mail) => mail.To.map((to) => `${to.Mailbox}@${to.Domain}`);

  test('mhGetAllMails, mhGetMailsBySubject / ByRecipient / BySender, mhGetBody, attachments', async () => {
    await sendMail(engine.smtpPort, {
      from: 'Shop <shop@example.test>',
      to: 'Bob <bob@example.test>',
      bcc: 'audit@example.test',
      envelope: { from: 'bounces@example.test', to: ['bob@example.test', 'audit@example.test'] },
      subject: 'Your order 42',
      text: 'Thanks for your order.\n',
      attachments: [{ filename: 'invoice-42.pdf', content: makePdf(), contentType: 'application/pdf' }],
    });
    await sendMail(engine.smtpPort, { from: 'alice@example.test', to: 'carol@example.test', subject: 'Hello Carol', text: 'Hi!\n' });

    const { status, type, body } = await mailhog('/v2/messages?limit=50');
    assert.equal(status, 200);
    assert.equal(type, 'text/json');
    assert.deepEqual([body.total, body.count, body.start], [2, 2, 0]);
    const mails = body.items;

    // mhGetMailsBySubject, mhGetSubject: the Subject header's first value.
    const order = mails.filter((mail) => mail.Content.Headers.Subject[0] === 'Your order 42');
    assert.equal(order.length, 1);
    const [mail] = order;
    // mhGetMailsByRecipient, mhGetRecipients: the envelope's recipients, Bcc included.
    assert.deepEqual(recipients(mail), ['bob@example.test', 'audit@example.test']);
    assert.equal(mails.filter((m) => recipients(m).includes('carol@example.test')).length, 1);
    // mhGetMailsBySender, mhGetSender: the envelope's sender.
    assert.equal(mail.Raw.From, 'bounces@example.test');
    // mhGetBody: the body as sent (a multipart body here, boundaries and all).
    assert.ok(mail.Content.Body.includes('Thanks for your order.'), mail.Content.Body);
    // Attachment names, from each MIME part's Content-Disposition.
    const dispositions = mail.MIME.Parts.map((part) => part.Headers['Content-Disposition']?.[0]).filter(Boolean);
    assert.ok(dispositions.some((d) => d.includes('invoice-42.pdf')), JSON.stringify(dispositions));
    assert.equal(typeof mail.ID, 'string');

    const limited = await mailhog('/v2/messages?limit=1');
    assert.deepEqual([limited.body.total, limited.body.count, limited.body.items[0].Content.Headers.Subject[0]], [2, 1, 'Hello Carol']);
  });

  test('search by from, to and containing', async () => {
    const subjects = async (kind, query) => {
      const { status, body } = await mailhog(`/v2/search?kind=${kind}&query=${encodeURIComponent(query)}&limit=50`);
      assert.equal(status, 200);
      return body.items.map((mail) => mail.Content.Headers.Subject[0]);
    };
    assert.deepEqual(await subjects('from', 'shop@example.test'), ['Your order 42']);
    assert.deepEqual(await subjects('to', 'carol@example.test'), ['Hello Carol']);
    // MailHog looks at the envelope too: the bounce address, a Bcc recipient.
    assert.deepEqual(await subjects('from', 'bounces@'), ['Your order 42']);
    assert.deepEqual(await subjects('to', 'AUDIT@example.test'), ['Your order 42']);
    assert.deepEqual(await subjects('containing', 'order'), ['Your order 42']);
    assert.equal((await mailhog('/v2/search?kind=subject&query=x')).status, 400);
  });

  test('mhGetJimMode is false (no Jim), mhDeleteAll deletes everything', async () => {
    assert.equal((await mailhog('/v2/jim')).status, 404);
    assert.equal((await mailhog('/v1/messages', { method: 'DELETE' })).status, 200);
    const { body } = await mailhog('/v2/messages?limit=50');
    assert.deepEqual(body, { total: 0, count: 0, start: 0, items: [] });
  });
});

describe('the npm mailhog client, every method', () => {
  let engine; // relays through `target`
  let target;
  let client;
  before(async () => {
    target = await startEngine();
    engine = await startEngine({
      args: ['--smtp-relay-host', '127.0.0.1', '--smtp-relay-port', String(target.smtpPort)],
    });
    client = mailhogClient({ host: '127.0.0.1', port: new URL(engine.url).port });
    await sendMail(engine.smtpPort, {
      from: 'Shop <shop@example.test>',
      to: 'Bob <bob@example.test>',
      cc: 'carol@example.test',
      replyTo: 'help@example.test',
      // ASCII: the client's header decoder leaves Q-encoding's `_` for a space as it
      // is (with MailHog too); the body's UTF-8 is decoded below.
      subject: 'Greetings from the shop',
      text: 'Grüße, Bob: dein Code ist 4711.\n',
      html: '<p>Grüße, <b>Bob</b></p>',
      date: new Date('2026-01-02T03:04:05Z'),
    });
    await sendMail(engine.smtpPort, {
      from: 'billing@example.test',
      to: 'dave@example.test',
      subject: 'Invoice 42',
      text: 'Attached.\n',
      attachments: [{ filename: 'invoice-42.pdf', content: makePdf(), contentType: 'application/pdf' }],
    });
    await sendMail(engine.smtpPort, { from: 'alice@example.test', to: 'erin@example.test', subject: 'Hello Erin', text: 'Hi!\n' });
  });
  after(async () => {
    await engine?.stop();
    await target?.stop();
  });

  test('messages: the page, paging, and the getters on each message', async () => {
    const all = await client.messages();
    assert.deepEqual([all.total, all.count, all.start], [3, 3, 0]);
    assert.deepEqual(all.items.map((mail) => mail.subject), ['Hello Erin', 'Invoice 42', 'Greetings from the shop']);

    const greeting = all.items[2];
    assert.equal(greeting.from, 'Shop <shop@example.test>');
    assert.equal(greeting.to, 'Bob <bob@example.test>');
    assert.equal(greeting.cc, 'carol@example.test');
    assert.equal(greeting.replyTo, 'help@example.test');
    assert.equal(greeting.bcc, undefined);
    assert.equal(greeting.text.trim(), 'Grüße, Bob: dein Code ist 4711.');
    assert.equal(greeting.html.trim(), '<p>Grüße, <b>Bob</b></p>');
    assert.equal(greeting.date.toISOString(), '2026-01-02T03:04:05.000Z');
    assert.ok(Math.abs(greeting.deliveryDate - Date.now()) < 60_000, String(greeting.deliveryDate));
    assert.deepEqual(greeting.attachments, []);

    const [invoice] = all.items[1].attachments;
    assert.equal(invoice.name, 'invoice-42.pdf');
    assert.match(invoice.type, /^application\/pdf/);
    assert.equal(invoice.encoding, 'base64');
    assert.ok(Buffer.from(invoice.Body, 'base64').subarray(0, 5).equals(Buffer.from('%PDF-')));

    const second = await client.messages(1, 1);
    assert.deepEqual([second.total, second.count, second.start], [3, 1, 1]);
    assert.equal(second.items[0].subject, 'Invoice 42');
  });

  test('search (from, to, containing, paging) and latestFrom / latestTo / latestContaining', async () => {
    const subjects = (result) => result.items.map((mail) => mail.subject);
    assert.deepEqual(subjects(await client.search('shop@example.test', 'from')), ['Greetings from the shop']);
    assert.deepEqual(subjects(await client.search('dave@example.test', 'to')), ['Invoice 42']);
    assert.deepEqual(subjects(await client.search('Attached')), ['Invoice 42'], 'containing is the default kind');
    const paged = await client.search('example.test', 'from', 1, 1);
    assert.deepEqual([paged.total, paged.count, paged.start, subjects(paged)], [3, 1, 1, ['Invoice 42']]);
    assert.equal((await client.latestFrom('billing@example.test')).subject, 'Invoice 42');
    assert.equal((await client.latestTo('erin@example.test')).subject, 'Hello Erin');
    assert.equal((await client.latestContaining('4711')).subject, 'Greetings from the shop');
    assert.equal(await client.latestTo('nobody@example.test'), 0, 'no match: the count, 0');
  });

  test('encode and decode, the client\'s own helpers, read what the server sends', async () => {
    const encoded = client.encode('Grüße', 'quoted-printable');
    assert.equal(encoded, 'Gr=C3=BC=C3=9Fe');
    assert.equal(client.decode(encoded, 'quoted-printable'), 'Grüße');
    const [mail] = (await client.search('4711')).items;
    const textPart = mail.MIME.Parts.find((part) => /^text\/plain/.test(part.Headers['Content-Type'][0]));
    const transfer = textPart.Headers['Content-Transfer-Encoding'][0];
    assert.equal(client.decode(textPart.Body, transfer, 'utf-8').trim(), 'Grüße, Bob: dein Code ist 4711.');
  });

  test('releaseMessage goes through the configured relay, never to a server the request names', async () => {
    const mail = await client.latestTo('erin@example.test');
    const refused = await client.releaseMessage(mail.ID, { host: '192.0.2.1', port: 25, email: 'frank@example.test' });
    assert.match(refused.Error, /only through the configured relay 127\.0\.0\.1:/);

    const released = await client.releaseMessage(mail.ID, { host: '127.0.0.1', port: String(target.smtpPort), email: 'frank@example.test' });
    assert.equal(released.statusCode, 200, 'an empty answer: the client hands back the response');
    const relayed = mailhogClient({ host: '127.0.0.1', port: new URL(target.url).port });
    await waitFor(async () => (await relayed.latestTo('frank@example.test'))?.subject === 'Hello Erin', {
      message: 'the released message did not reach the relay',
    });
    assert.equal((await client.releaseMessage(mail.ID, { email: 'grace@example.test' })).statusCode, 200, 'no server named');
  });

  test('deleteMessage deletes one; deleteAll deletes the rest (and rejects: it reads Mailpit\'s "ok" as JSON)', async () => {
    const invoice = await client.latestTo('dave@example.test');
    assert.equal((await client.deleteMessage(invoice.ID)).statusCode, 200);
    assert.equal(await client.latestTo('dave@example.test'), 0);
    assert.equal((await client.messages()).total, 2);

    await assert.rejects(client.deleteAll(), SyntaxError);
    assert.deepEqual(await client.messages(), { total: 0, count: 0, start: 0, items: [] });
  });
});
