// webhooks.test.mjs - provider event webhooks end to end: mail sent through the
// providers' real SDKs (SendGrid, Resend, Mailgun) into a real `pigeonhole serve`,
// whose events reach a receiver on loopback; each signature is checked the way the
// app would: SendGrid's with npm @sendgrid/eventwebhook, Resend's with npm svix,
// Mailgun's HMAC and SNS's RSA signature (SES through SNS, after the subscription
// handshake an app's handler performs) by their documented algorithms. A receiver
// that fails is tried again with growing gaps; one that never answers holds up no mail.

import assert from 'node:assert/strict';
import { createHmac, createVerify } from 'node:crypto';
import http from 'node:http';
import { after, before, test } from 'node:test';

import sgClient from '@sendgrid/client';
import { EventWebhook, EventWebhookHeader } from '@sendgrid/eventwebhook';
import sgMail from '@sendgrid/mail';
import FormData from 'form-data';
import Mailgun from 'mailgun.js';
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { Resend } from 'resend';
import { Webhook as SvixWebhook } from 'svix';

import { startEngine } from '../../ui/tests/harness.mjs';

let engine;
let receiver;
/** Every request the receiver got: path, headers, body text, when. */
const received = [];
/** How the receiver answers a path: a status, or 'hang' (never answers). */
const answers = new Map();
let settings;

before(async () => {
  receiver = http.createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url, headers: request.headers, body: Buffer.concat(chunks).toString(), at: Date.now() });
      const answer = answers.get(request.url) ?? [200];
      const status = answer.length > 1 ? answer.shift() : answer[0];
      if (status !== 'hang') response.writeHead(status).end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${receiver.address().port}`;
  engine = await startEngine();
  const put = await fetch(`${engine.url}/api/v1/webhooks`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      Webhooks: ['sendgrid', 'resend', 'mailgun'].map((provider) => ({ Provider: provider, URL: `${base}/${provider}`, Enabled: true, Headers: {} })),
      Retries: { Attempts: 3, FirstDelayMillis: 200, TimeoutMillis: 1000 },
    }),
  });
  assert.equal(put.status, 200);
  settings = Object.fromEntries((await put.json()).Webhooks.map((webhook) => [webhook.Provider, webhook]));
});
after(async () => {
  await engine?.stop();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
});

/** The first `count` deliveries to `path` whose body contains `marker`, waited for. */
async function deliveries(path, marker, count = 1) {
  for (let tries = 0; tries < 100; tries++) {
    const found = received.filter((request) => request.path === path && request.body.includes(marker));
    if (found.length >= count) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`no ${count} deliveries to ${path} with ${marker}: ${JSON.stringify(received.map((r) => r.path))}`);
}

function sendgrid() {
  const client = new sgClient.Client();
  client.setApiKey('SG.hooks.secret');
  client.setDefaultRequest('baseUrl', engine.url);
  sgMail.setClient(client);
  return sgMail;
}

test('SendGrid: delivered and bounce events, signed so that @sendgrid/eventwebhook verifies them', async () => {
  const [response] = await sendgrid().send({
    to: ['ann@example.test', 'bounce@simulator.test'],
    from: 'shop@example.test',
    subject: 'Hooked on SendGrid',
    text: 'x',
    categories: ['orders'],
  });
  const messageId = response.headers['x-message-id'];
  const requests = await deliveries('/sendgrid', 'bounce@simulator.test');
  const [delivered] = await deliveries('/sendgrid', '"delivered"');
  const verifier = new EventWebhook();
  const key = verifier.convertPublicKeyToECDSA(settings.sendgrid.VerificationKey);
  for (const request of [delivered, requests[0]]) {
    const signature = request.headers[EventWebhookHeader.SIGNATURE().toLowerCase()];
    const timestamp = request.headers[EventWebhookHeader.TIMESTAMP().toLowerCase()];
    assert.ok(verifier.verifySignature(key, request.body, signature, timestamp), 'the signature verifies');
    assert.ok(!verifier.verifySignature(key, `${request.body} `, signature, timestamp), 'and not for another body');
  }
  const [event] = JSON.parse(delivered.body);
  assert.equal(event.event, 'delivered');
  assert.equal(event.email, 'ann@example.test');
  assert.ok(event.sg_message_id.startsWith(messageId), `${event.sg_message_id} names ${messageId}`);
  assert.deepEqual(event.category, ['orders']);
  const [bounce] = JSON.parse(requests[0].body);
  assert.equal(bounce.event, 'bounce');
  assert.equal(bounce.email, 'bounce@simulator.test');
  assert.match(bounce.status, /^5\.1\.1$/);
  assert.ok(
    !received.some((r) => r.path === '/sendgrid' && JSON.parse(r.body).some((e) => e.event === 'delivered' && e.email === 'bounce@simulator.test')),
    'a bounced recipient is not also delivered',
  );
});

test('Resend: email.delivered, signed so that svix verifies it', async () => {
  process.env.RESEND_BASE_URL = engine.url;
  const { data, error } = await new Resend('re_hooks_secret').emails.send({
    from: 'shop@example.test',
    to: 'bob@example.test',
    subject: 'Hooked on Resend',
    text: 'x',
  });
  assert.equal(error, null);
  const [request] = await deliveries('/resend', data.id);
  const payload = new SvixWebhook(settings.resend.VerificationKey).verify(request.body, {
    'svix-id': request.headers['svix-id'],
    'svix-timestamp': request.headers['svix-timestamp'],
    'svix-signature': request.headers['svix-signature'],
  });
  assert.equal(payload.type, 'email.delivered');
  assert.equal(payload.data.email_id, data.id);
  assert.throws(() =>
    new SvixWebhook(settings.resend.VerificationKey).verify(request.body.replace('bob', 'eve'), {
      'svix-id': request.headers['svix-id'],
      'svix-timestamp': request.headers['svix-timestamp'],
      'svix-signature': request.headers['svix-signature'],
    }),
  );
});

test('Mailgun: delivered with its HMAC signature; a receiver answering 500 twice gets a third try, later each time', async () => {
  answers.set('/mailgun', [500, 500, 200]);
  const mailgun = new Mailgun(FormData).client({ username: 'api', key: 'key-hooks', url: engine.url });
  const sent = await mailgun.messages.create('mg.example.test', { from: 'shop@mg.example.test', to: 'cy@example.test', subject: 'Hooked on Mailgun', text: 'x' });
  const tries = await deliveries('/mailgun', 'cy@example.test', 3);
  const { signature, 'event-data': eventData } = JSON.parse(tries[2].body);
  const expected = createHmac('sha256', settings.mailgun.VerificationKey).update(signature.timestamp + signature.token).digest('hex');
  assert.equal(signature.signature, expected);
  assert.equal(eventData.event, 'delivered');
  assert.equal(eventData.message.headers['message-id'], sent.id.replace(/^<|>$/g, ''));
  const gaps = [tries[1].at - tries[0].at, tries[2].at - tries[1].at];
  assert.ok(gaps[0] >= 150 && gaps[1] >= gaps[0] * 1.5, `back-off grows: ${gaps}`);
  const log = await (await fetch(`${engine.url}/api/v1/webhooks/log`)).json();
  const delivery = log.find((d) => d.Provider === 'mailgun' && d.Event === 'delivered');
  assert.deepEqual(delivery.Attempts.map((a) => a.Status), [500, 500, 200]);
});

/** An SNS message's signature checked as SNS documents it (SignatureVersion 2:
 * RSA-SHA256 over "Key\nvalue\n" of its signed fields, the key from the
 * certificate at SigningCertURL). */
async function verifySns(message) {
  const fields =
    message.Type === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  const canonical = fields.filter((key) => key in message).map((key) => `${key}\n${message[key]}\n`).join('');
  const certificate = await (await fetch(message.SigningCertURL)).text();
  assert.equal(message.SignatureVersion, '2');
  return createVerify('RSA-SHA256').update(canonical).verify(certificate, message.Signature, 'base64');
}

test('SES through SNS: the subscription handshake an app performs, then signed notifications until it unsubscribes', async () => {
  const base = `http://127.0.0.1:${receiver.address().port}`;
  const put = await fetch(`${engine.url}/api/v1/webhooks`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ Webhooks: [{ Provider: 'ses', URL: `${base}/ses`, Enabled: true, Headers: {} }] }),
  });
  assert.equal(put.status, 200);
  const [request] = await deliveries('/ses', 'SubscriptionConfirmation');
  assert.equal(request.headers['x-amz-sns-message-type'], 'SubscriptionConfirmation');
  const confirmation = JSON.parse(request.body);
  assert.ok(await verifySns(confirmation), 'the confirmation verifies');
  assert.ok(!(await verifySns({ ...confirmation, Token: `${confirmation.Token}0` })), 'and not with another token');

  const ses = new SESv2Client({
    endpoint: engine.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIAPIGEONHOLEHOOKS1', secretAccessKey: 'secret' },
    maxAttempts: 1,
  });
  const send = (subject) =>
    ses.send(
      new SendEmailCommand({
        FromEmailAddress: 'shop@example.test',
        Destination: { ToAddresses: ['dee@example.test'] },
        Content: { Simple: { Subject: { Data: subject }, Body: { Text: { Data: 'x' } } } },
      }),
    );
  const logged = async (pick) => {
    for (let tries = 0; tries < 100; tries++) {
      const entry = (await (await fetch(`${engine.url}/api/v1/webhooks/log`)).json()).find(pick);
      if (entry) return entry;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.fail('no such delivery in the log');
  };

  // Not confirmed yet: SNS posts nothing, and the log says what to do.
  await send('Before confirming');
  const withheld = await logged((d) => d.Provider === 'ses' && d.Event === 'delivered' && d.State === 'failed');
  assert.equal(withheld.State, 'failed');
  assert.match(withheld.Attempts[0].Error, /SubscribeURL/);
  assert.equal(received.filter((r) => r.path === '/ses').length, 1, 'only the confirmation reached the app');

  // The app's handler visits the SubscribeURL, with no UI credentials.
  const confirmed = await fetch(confirmation.SubscribeURL);
  assert.equal(confirmed.status, 200);
  const arn = (await confirmed.text()).match(/<SubscriptionArn>([^<]+)<\/SubscriptionArn>/)[1];
  const shown = (await (await fetch(`${engine.url}/api/v1/webhooks`)).json()).Webhooks.find((w) => w.Provider === 'ses');
  assert.equal(shown.SubscriptionConfirmed, true);

  const sent = await send('After confirming');
  const [notificationRequest] = await deliveries('/ses', sent.MessageId);
  const notification = JSON.parse(notificationRequest.body);
  assert.equal(notification.Type, 'Notification');
  assert.equal(notificationRequest.headers['x-amz-sns-subscription-arn'], arn);
  assert.ok(await verifySns(notification), 'the notification verifies');
  const event = JSON.parse(notification.Message);
  assert.equal(event.eventType, 'Delivery');
  assert.equal(event.mail.messageId, sent.MessageId);

  // Its UnsubscribeURL ends it: nothing more is posted.
  assert.equal((await fetch(notification.UnsubscribeURL)).status, 200);
  assert.equal((await fetch(notification.UnsubscribeURL)).status, 404);
  const after = await send('After unsubscribing');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.ok(!received.some((r) => r.path === '/ses' && r.body.includes(after.MessageId)), 'nothing after unsubscribing');
});

test('a receiver that never answers holds up no mail', async () => {
  answers.set('/sendgrid', ['hang']);
  const mail = sendgrid();
  const started = Date.now();
  for (let i = 0; i < 20; i++) {
    const [response] = await mail.send({ to: `hang${i}@example.test`, from: 'shop@example.test', subject: `Hang ${i}`, text: 'x' });
    assert.equal(response.statusCode, 202);
  }
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 5000, `20 sends took ${elapsed} ms while the receiver hangs`);
  await deliveries('/sendgrid', 'hang19@example.test');
});
