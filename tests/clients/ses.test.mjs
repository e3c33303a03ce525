// ses.test.mjs - Pigeonhole as Amazon SES for the real SDKs, unchanged but for their
// endpoint: npm `@aws-sdk/client-sesv2` (v2 SendEmail, Simple with attachments and
// an inline image, and Raw) and Python's boto3 (ses_boto3.py: the `sesv2` client and
// the v1 query API's `ses` client, SendEmail and SendRawEmail) against the real
// `pigeonhole serve`. Checked: SES's answer shapes as the SDKs read them, the stored
// messages (recipients, tags, the inbox named after the access key ID), attachments
// byte-exact after decoding, SES's validation errors as the SDKs raise them, 403 for
// an unsigned request, and a signature checked against a configured secret.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';

import { api, makePdf, makePng, startEngine } from '../../ui/tests/harness.mjs';
import { storedWithEnvelope } from './provider-mail.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ACCESS_KEY_ID = 'AKIAPIGEONHOLETEST01';
const SECRET = 'pigeonhole/secret+key';

let engine;
let keysDir;

/** An SESv2 client signing with `secretAccessKey`, pointed at the engine. */
function client(secretAccessKey = SECRET) {
  return new SESv2Client({
    endpoint: engine.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey },
    maxAttempts: 1,
  });
}

before(async () => {
  // The secret of ACCESS_KEY_ID is configured, so its signatures are checked; any
  // other access key ID is taken on the shape of its signature alone.
  keysDir = await mkdtemp(join(tmpdir(), 'pigeonhole-ses-keys-'));
  const keys = join(keysDir, 'keys.toml');
  await writeFile(keys, `[[key]]\nprovider = "ses"\nkey = "${ACCESS_KEY_ID}"\nsecret = "${SECRET}"\ninbox = "ses-app"\n\n[[key]]\nprovider = "ses"\nkey = "AKIAPIGEONHOLEBOTO3"\n`);
  // A copy of the app's stored SES template, for the templated sends.
  const templates = join(keysDir, 'templates');
  await mkdir(templates);
  await writeFile(join(templates, 'receipt.subject'), 'boto3 receipt {{order}}');
  await writeFile(join(templates, 'receipt.html'), '<p>Paid: {{order}} for {{name}}</p>');
  await writeFile(join(templates, 'receipt.txt'), 'Paid: {{order}} for {{name}}');
  engine = await startEngine({ args: ['--provider-keys', keys, '--provider-templates', templates] });
});
after(async () => {
  await engine?.stop();
  if (keysDir) await rm(keysDir, { recursive: true, force: true });
});

const stored = (subject) => storedWithEnvelope(engine, subject);

const MESSAGE_ID = /^0100[0-9a-f]{12}-[0-9a-f-]{36}-000000$/;

describe('@aws-sdk/client-sesv2', () => {
  test('an inline template is rendered with its data', async () => {
    const answer = await client().send(
      new SendEmailCommand({
        FromEmailAddress: 'app@example.test',
        Destination: { ToAddresses: ['ann@example.test'] },
        Content: {
          Template: {
            TemplateContent: { Subject: 'SES inline {{order}}', Text: 'Paid: {{order}}', Html: '<p>{{name}}</p>' },
            TemplateData: JSON.stringify({ order: 8, name: '<Cy>' }),
          },
        },
      }),
    );
    const { message, envelope } = await stored('SES inline 8');
    assert.equal(envelope.Api.ProviderMessageId, answer.MessageId);
    assert.match(message.Text, /^Paid: 8/);
    assert.match(message.HTML, /<p>&lt;Cy&gt;<\/p>/);
  });

  test('Simple with attachments and an inline image, byte-exact', async () => {
    const png = makePng(2, 2);
    const pdf = makePdf('SES invoice');
    const answer = await client().send(
      new SendEmailCommand({
        FromEmailAddress: 'App <app@example.test>',
        Destination: { ToAddresses: ['ann@example.test'], CcAddresses: ['cc@example.test'], BccAddresses: ['hidden@example.test'] },
        ReplyToAddresses: ['reply@example.test'],
        Content: {
          Simple: {
            Subject: { Data: 'SES v2 simple', Charset: 'UTF-8' },
            Body: { Text: { Data: 'Hello from SES' }, Html: { Data: '<p>Hello <img src="cid:logo"></p>' } },
            Headers: [{ Name: 'X-Campaign', Value: 'spring' }],
            Attachments: [
              { RawContent: png, FileName: 'logo.png', ContentDisposition: 'INLINE', ContentId: 'logo', ContentType: 'image/png' },
              { RawContent: pdf, FileName: 'invoice.pdf', ContentType: 'application/pdf' },
            ],
          },
        },
        EmailTags: [{ Name: 'campaign', Value: 'welcome' }],
        ConfigurationSetName: 'dev',
      }),
    );
    assert.equal(answer.$metadata.httpStatusCode, 200);
    assert.match(answer.MessageId, MESSAGE_ID);

    const { id, message, envelope, headers } = await stored('SES v2 simple');
    assert.deepEqual(envelope.RcptTo, ['ann@example.test', 'cc@example.test', 'hidden@example.test']);
    assert.equal(envelope.AuthUser, 'ses-app', 'the inbox the keys file maps the access key to');
    assert.equal(envelope.Helo, 'ses-api');
    assert.equal(envelope.Api.Provider, 'ses');
    assert.equal(envelope.Api.ProviderMessageId, answer.MessageId);
    assert.match(envelope.Api.Request, /^POST \/v2\/email\/outbound-emails/);
    assert.equal(message.MessageID, `${answer.MessageId}@email.amazonses.com`);
    assert.deepEqual(message.Tags, ['welcome']);
    assert.deepEqual(headers['X-Ses-Message-Tags'] ?? headers['X-SES-MESSAGE-TAGS'], ['campaign=welcome']);
    assert.deepEqual(headers['X-Campaign'], ['spring']);
    assert.equal(message.Inline[0].ContentID, 'logo');
    assert.deepEqual((await api(engine, `/api/v1/message/${id}/part/${message.Inline[0].PartID}`)).bytes, png);
    assert.equal(message.Attachments[0].FileName, 'invoice.pdf');
    assert.deepEqual((await api(engine, `/api/v1/message/${id}/part/${message.Attachments[0].PartID}`)).bytes, pdf);
  });

  test('Raw is stored as given', async () => {
    const raw = Buffer.from('From: app@example.test\r\nTo: raw@example.test\r\nSubject: SES v2 raw\r\n\r\nraw body\r\n');
    const answer = await client().send(new SendEmailCommand({ Content: { Raw: { Data: raw } } }));
    assert.match(answer.MessageId, MESSAGE_ID);
    const { id, envelope } = await stored('SES v2 raw');
    assert.deepEqual(envelope.RcptTo, ['raw@example.test']);
    assert.equal(envelope.MailFrom, 'app@example.test');
    assert.deepEqual((await api(engine, `/api/v1/message/${id}/raw`)).bytes, raw);
  });

  test('a missing sender is SES\'s BadRequestException and stores nothing', async () => {
    const total = (await api(engine, '/api/v1/messages')).json.total;
    await assert.rejects(
      client().send(new SendEmailCommand({ Destination: { ToAddresses: ['a@example.test'] }, Content: { Simple: { Subject: { Data: 's' }, Body: { Text: { Data: 't' } } } } })),
      (err) => {
        assert.equal(err.name, 'BadRequestException');
        assert.equal(err.$metadata.httpStatusCode, 400);
        assert.match(err.message, /fromEmailAddress/);
        return true;
      },
    );
    assert.equal((await api(engine, '/api/v1/messages')).json.total, total);
  });

  test('a simulator address refused for good is SES\'s MessageRejected, and nothing is stored', async () => {
    const total = (await api(engine, '/api/v1/messages')).json.total;
    await assert.rejects(
      client().send(new SendEmailCommand({
        FromEmailAddress: 'app@example.test',
        Destination: { ToAddresses: ['suppressed@simulator.test'] },
        Content: { Simple: { Subject: { Data: 'SES suppressed' }, Body: { Text: { Data: 't' } } } },
      })),
      (err) => {
        assert.equal(err.name, 'MessageRejected');
        assert.equal(err.$metadata.httpStatusCode, 400);
        assert.match(err.message, /suppressed@simulator\.test: 550/);
        return true;
      },
    );
    assert.equal((await api(engine, '/api/v1/messages')).json.total, total);
  });

  test('a signature made with another secret is refused with 403', async () => {
    await assert.rejects(
      client('not the secret').send(new SendEmailCommand({ Content: { Raw: { Data: Buffer.from('From: a@example.test\r\nTo: b@example.test\r\n\r\nx') } } })),
      (err) => {
        assert.equal(err.$metadata.httpStatusCode, 403);
        assert.equal(err.name, 'InvalidSignatureException');
        return true;
      },
    );
  });

  test('an unsigned request is refused with 403', async () => {
    const res = await fetch(`${engine.url}/v2/email/outbound-emails`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
  });
});

describe('boto3 (sesv2 and the v1 ses client)', () => {
  test('send_email v2 (simple and templated), send_email, send_raw_email and send_templated_email v1, and the errors', async () => {
    // Debian's Python, where scripts/setup.sh installs boto3 (python3-boto3); a
    // python3 earlier on PATH (pyenv …) may not have it.
    const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
    const run = spawnSync(python, [join(HERE, 'ses_boto3.py'), engine.url], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, `ses_boto3.py failed:\n${run.stderr}\n${engine.output()}`);
    const results = JSON.parse(run.stdout);
    for (const key of ['v2', 'v1', 'v1_raw']) assert.match(results[key], MESSAGE_ID, key);
    assert.deepEqual(results.v1_error, { code: 'InvalidParameterValue', message: 'Illegal address: ', status: 400 });

    const v2 = await stored('boto3 v2 simple');
    assert.deepEqual(v2.envelope.RcptTo, ['ann@example.test', 'hidden@example.test']);
    assert.equal(v2.envelope.AuthUser, 'ses:AKIAPIGEONHOLEBOTO3');
    assert.equal(v2.envelope.Api.ProviderMessageId, results.v2);
    assert.deepEqual(v2.message.Tags, ['signup']);

    const v1 = await stored('boto3 v1 send_email');
    assert.deepEqual(v1.envelope.RcptTo, ['ann@example.test', 'bob@example.test']);
    assert.equal(v1.envelope.MailFrom, 'boto@example.test');
    assert.equal(v1.envelope.Api.ProviderMessageId, results.v1);
    assert.match(v1.envelope.Api.Request, /^POST \/ /);
    assert.equal(v1.message.ReplyTo[0].Address, 'reply@example.test');

    const raw = await stored('boto3 v1 send_raw_email');
    assert.deepEqual(raw.envelope.RcptTo, ['raw@example.test']);
    assert.equal(raw.envelope.Api.ProviderMessageId, results.v1_raw);

    // Templates: v2 by name (stored), v2 inline, v1 SendTemplatedEmail; HTML escaped.
    for (const [subject, id, name] of [
      ['boto3 receipt 7', results.v2_template, 'Ann & Bob'],
      ['boto3 receipt 9', results.v1_template, 'Di'],
    ]) {
      const templated = await stored(subject);
      assert.equal(templated.envelope.Api.ProviderMessageId, id, subject);
      const { message } = templated;
      assert.match(message.Text, new RegExp(`Paid: \\d for ${name}`), subject);
      assert.match(message.HTML, new RegExp(`<p>Paid: \\d for ${name.replace('&', '&amp;')}</p>`), subject);
    }
    assert.match(results.v2_template_error.message, /no template "nosuch" in .*: add nosuch.html/);
    assert.equal(results.v2_template_error.status, 400);
  });
});
