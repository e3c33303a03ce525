// mailhog.test.mjs - the MailHog API subset as cypress-mailhog (2.x) reads it, against
// the real `pigeonhole serve` with mail over real SMTP: its requests
// (`/api/v2/messages?limit=N`, `/api/v2/search`, `DELETE /api/v1/messages`,
// `GET /api/v2/jim`) and the fields its commands read, used the way it uses them.
// cypress-mailhog itself needs the Cypress binary, so its reads are done here.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { makePdf, sendMail, startEngine } from '../../ui/tests/harness.mjs';

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
