// provider-mail.mjs - what the provider SDK tests (sendgrid, postmark, resend …
// .test.mjs) share: the attachments they send, and the checks of what Pigeonhole
// stored through its own API: the message, its parts byte for byte after decoding,
// its envelope's Api record with the credential masked.

import assert from 'node:assert/strict';

import { makePdf, makePng } from '../../ui/tests/harness.mjs';

/** An inline image and a PDF attachment, with their exact bytes. */
export function files() {
  return { png: makePng(12, 8), pdf: Buffer.from(makePdf('Invoice 42')) };
}

/** The one stored message whose subject is `subject`, in full (`/api/v1/message/{ID}`). */
export async function storedMessage(engine, subject) {
  const page = await (await fetch(`${engine.url}/api/v1/search?query=${encodeURIComponent(`subject:"${subject}"`)}`)).json();
  assert.equal(page.messages.length, 1, `one message with subject ${subject}: ${JSON.stringify(page.messages)}`);
  return (await fetch(`${engine.url}/api/v1/message/${page.messages[0].ID}`)).json();
}

/** The one stored message whose subject is `subject`, with its ID, envelope and headers. */
export async function storedWithEnvelope(engine, subject) {
  const message = await storedMessage(engine, subject);
  const [envelope, headers] = await Promise.all(
    ['envelope', 'headers'].map(async (view) => (await fetch(`${engine.url}/api/v1/message/${message.ID}/${view}`)).json()),
  );
  return { id: message.ID, message, envelope, headers };
}

/** The decoded bytes of a part of a stored message. */
export async function partBytes(engine, id, partId) {
  const res = await fetch(`${engine.url}/api/v1/message/${id}/part/${partId}`);
  assert.equal(res.status, 200, `part ${partId}`);
  return Buffer.from(await res.arrayBuffer());
}

/**
 * Assert the message has the inline image (Content-ID `logo`) and the PDF
 * attachment, each byte-exact after decoding.
 */
export async function assertFiles(engine, message, { png, pdf }) {
  assert.equal(message.Inline.length, 1, JSON.stringify(message.Inline));
  assert.equal(message.Inline[0].ContentID, 'logo');
  assert.deepEqual(await partBytes(engine, message.ID, message.Inline[0].PartID), png);
  assert.equal(message.Attachments.length, 1, JSON.stringify(message.Attachments));
  assert.equal(message.Attachments[0].FileName, 'invoice.pdf');
  assert.deepEqual(await partBytes(engine, message.ID, message.Attachments[0].PartID), pdf);
}

/**
 * The message's envelope, asserted to record the provider's request: the provider,
 * the ID its answer gave the app, the inbox, and the request with `secret` masked.
 */
export async function assertApiRecord(engine, message, { provider, providerMessageId, inbox, secret, rcptTo }) {
  const envelope = await (await fetch(`${engine.url}/api/v1/message/${message.ID}/envelope`)).json();
  assert.deepEqual(envelope.RcptTo, rcptTo);
  assert.equal(envelope.Helo, `${provider}-api`);
  assert.equal(envelope.AuthUser, inbox);
  assert.equal(message.Username, inbox);
  assert.equal(envelope.Api.Provider, provider);
  assert.equal(envelope.Api.ProviderMessageId, providerMessageId);
  assert.match(envelope.Api.Request, /^POST \/\S+ HTTP\/1\.1\n/);
  assert.ok(envelope.Api.Request.includes('…'), 'the credential is masked');
  assert.ok(!envelope.Api.Request.includes(secret), `the secret ${secret} is not in the recorded request`);
  return envelope;
}
