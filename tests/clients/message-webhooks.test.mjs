// message-webhooks.test.mjs - message webhooks end to end: a real `pigeonhole serve`
// started with Mailpit's `--webhook-url`, mail over SMTP (nodemailer), a receiver on
// loopback. The body is Mailpit's webhook JSON (the message list's summary); every
// delivery verifies with the npm `standardwebhooks` library, as a receiver written to
// the Standard Webhooks spec checks it; webhooks set through PUT /api/v1/webhooks
// get only the messages their search picks; a 5xx is retried with the same ID.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';

import { Webhook } from 'standardwebhooks';

import { api, plainMail, sendMail, startEngine, waitFor } from '../../ui/tests/harness.mjs';

let engine;
let receiver;
/** Every request the receiver got: path, headers, body text. */
const received = [];
/** How the receiver answers a path: statuses in turn, the last one for good. */
const answers = new Map();
let secret;

before(async () => {
  receiver = http.createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url, headers: request.headers, body: Buffer.concat(chunks).toString() });
      const answer = answers.get(request.url) ?? [200];
      response.writeHead(answer.length > 1 ? answer.shift() : answer[0]).end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${receiver.address().port}`;
  engine = await startEngine({ args: ['--webhook-url', `${base}/mailpit`, '--webhook-limit', '0'] });
  const put = await api(engine, '/api/v1/webhooks', {
    method: 'PUT',
    body: {
      Webhooks: [],
      Retries: { Attempts: 3, FirstDelayMillis: 200, TimeoutMillis: 2000 },
      MessageWebhooks: [
        { ID: 'invoices', URL: `${base}/invoices`, Enabled: true, Query: 'subject:invoice' },
        { ID: 'flaky', URL: `${base}/flaky`, Enabled: true, Query: 'flaky' },
      ],
    },
  });
  assert.equal(put.status, 200, put.text);
  secret = put.json.MessageSigningSecret;
  assert.match(secret, /^whsec_/);
  assert.deepEqual(
    put.json.MessageWebhooks.map((w) => [w.ID, w.CommandLine]),
    [['cli-1', true], ['invoices', false], ['flaky', false]],
  );
});
after(async () => {
  await engine?.stop();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
});

/** The requests to `path` for message `id`, once `count` have arrived. */
async function deliveries(path, id, count = 1) {
  const of = () => received.filter((r) => r.path === path && JSON.parse(r.body).ID === id);
  await waitFor(() => of().length >= count, { timeout: 10_000, message: `${count} deliveries of ${id} to ${path}` });
  return of();
}

test('--webhook-url posts the summary Mailpit posts; standardwebhooks verifies it', async () => {
  const { id } = await sendMail(engine.smtpPort, plainMail({ subject: 'Welcome "aboard" </script>' }));
  const [delivery] = await deliveries('/mailpit', id);
  const listed = (await api(engine, '/api/v1/messages?limit=1')).json.messages[0];
  assert.equal(listed.ID, id);
  assert.deepEqual(JSON.parse(delivery.body), listed);
  assert.deepEqual(Object.keys(JSON.parse(delivery.body)), Object.keys(listed));
  assert.equal(delivery.headers['content-type'], 'application/json');
  assert.equal(delivery.headers['webhook-id'], `msg_${id}`);

  const verified = new Webhook(secret).verify(delivery.body, delivery.headers);
  assert.equal(verified.Subject, 'Welcome "aboard" </script>');
  assert.throws(() => new Webhook(secret).verify(delivery.body.replace('Welcome', 'Welcomf'), delivery.headers));
  const other = `whsec_${Buffer.from('another secret, not ours').toString('base64')}`;
  assert.throws(() => new Webhook(other).verify(delivery.body, delivery.headers));
});

test('a webhook set through the API gets only what its search picks', async () => {
  const invoice = await sendMail(engine.smtpPort, plainMail({ subject: 'Invoice 42' }));
  const hello = await sendMail(engine.smtpPort, plainMail({ subject: 'Just hello' }));
  const [delivery] = await deliveries('/invoices', invoice.id);
  new Webhook(secret).verify(delivery.body, delivery.headers);
  await deliveries('/mailpit', hello.id);
  assert.equal(received.filter((r) => r.path === '/invoices' && JSON.parse(r.body).ID === hello.id).length, 0);
  const log = (await api(engine, '/api/v1/webhooks/log?webhook=invoices')).json;
  assert.deepEqual(log.map((d) => [d.MessageID, d.Webhook, d.Event, d.State]), [[invoice.id, 'invoices', 'new', 'delivered']]);
});

test('a 5xx is tried again with the same webhook-id, each attempt in the log', async () => {
  answers.set('/flaky', [503, 200]);
  const { id } = await sendMail(engine.smtpPort, plainMail({ subject: 'A flaky receiver' }));
  const tries = await deliveries('/flaky', id, 2);
  assert.equal(tries[0].headers['webhook-id'], tries[1].headers['webhook-id']);
  for (const attempt of tries) new Webhook(secret).verify(attempt.body, attempt.headers);
  await waitFor(async () => (await api(engine, '/api/v1/webhooks/log?webhook=flaky')).json[0]?.State === 'delivered', { timeout: 10_000 });
  const [logged] = (await api(engine, '/api/v1/webhooks/log?webhook=flaky')).json;
  assert.deepEqual(logged.Attempts.map((a) => a.Status), [503, 200]);
  assert.ok(logged.Attempts.every((a) => typeof a.DurationMillis === 'number'));
});
