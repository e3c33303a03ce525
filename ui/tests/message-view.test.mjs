// One multipart message (HTML + text + inline cid image + PDF, RFC 2047 subject, a
// Bcc-only recipient) through every tab of the message pane, and its .eml download.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import {
  api,
  expectAttribute,
  expectText,
  multipartMail,
  openMessage,
  openTab,
  openUI,
  previewFrame,
  screenshot,
  sendMail,
  uiTest,
  waitFor,
} from './harness.mjs';

/** Send the fixture, open the UI and the message. */
async function openFixture(engine, page) {
  const { options, expect } = multipartMail();
  const sent = await sendMail(engine.smtpPort, options);
  await openUI(page, engine);
  await openMessage(page, sent.id);
  return { sent, expect };
}

/** Absolute href of the first `a` under `locator`. */
function hrefOf(locator) {
  return locator.locator('a').first().evaluate((a) => a.href);
}

async function fetchBytes(url) {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return Buffer.from(await res.arrayBuffer());
}

uiTest('HTML tab: the preview shows the HTML part and its cid: image loads', async ({ engine, page }) => {
  const { expect } = await openFixture(engine, page);
  await expectText(page.getByTestId('message-subject'), expect.subject, { message: 'message-subject is not the decoded subject' });
  await openTab(page, 'html');
  const frame = await previewFrame(page);
  await frame.locator('#fixture-heading').waitFor();
  assert.equal(await frame.locator('#fixture-heading').textContent(), expect.htmlHeading);
  const img = await waitFor(
    () =>
      frame.evaluate(() => {
        const i = document.getElementById('inline-logo');
        return i && i.complete && i.naturalWidth > 0 ? { w: i.naturalWidth, h: i.naturalHeight, src: i.currentSrc } : null;
      }),
    { message: 'the inline cid: image in the preview never loaded (naturalWidth 0)' },
  );
  assert.equal(img.w, 48, `the cid image is the fixture's 48x24 PNG (got ${JSON.stringify(img)})`);
  assert.ok(!img.src.startsWith('cid:'), `the cid: reference was rewritten to a loadable URL (src ${img.src})`);
  await screenshot(page, 'tab-html');
});

uiTest('Text tab shows the text part', async ({ engine, page }) => {
  const { expect } = await openFixture(engine, page);
  const panel = await openTab(page, 'text');
  await expectText(panel, expect.text);
  await expectText(panel, 'Your verification code is 482913.');
  await screenshot(page, 'tab-text');
});

uiTest('Source tab shows the raw message', async ({ engine, page }) => {
  const { sent } = await openFixture(engine, page);
  await openTab(page, 'source');
  const source = page.getByTestId('source-view');
  const raw = sent.raw.toString('utf8');
  // Raw, not decoded: the encoded-word subject line and the MIME structure as sent.
  const subjectLine = raw.split('\r\n').find((l) => l.startsWith('Subject: '));
  assert.match(subjectLine, /=\?UTF-8\?/i, 'the fixture subject is RFC 2047 encoded on the wire');
  await expectText(source, subjectLine, { message: 'source-view lacks the raw (encoded) Subject line' });
  const boundary = /boundary="?([^";\r\n]+)/.exec(raw)[1];
  await expectText(source, `--${boundary}--`);
  await expectText(source, 'Content-Type: application/pdf');
  await expectText(source, 'Content-Transfer-Encoding: base64');
  await screenshot(page, 'tab-source');
});

uiTest('Headers tab: a table with the decoded (RFC 2047) subject', async ({ engine, page }) => {
  const { expect } = await openFixture(engine, page);
  await openTab(page, 'headers');
  const table = page.getByTestId('headers-table');
  await table.waitFor();
  const value = (name) =>
    table.locator('tr').evaluateAll(
      (rows, n) =>
        rows
          .filter((r) => r.querySelector('th')?.textContent.trim().toLowerCase() === n)
          .map((r) => r.querySelector('td')?.textContent.trim()),
      name.toLowerCase(),
    );
  await waitFor(async () => (await value('Subject')).includes(expect.subject), {
    message: `headers-table has no Subject row with the decoded "${expect.subject}"`,
  });
  assert.ok((await value('From')).some((v) => v.includes('Zoë Sender')), 'From is decoded too');
  assert.ok((await value('Content-Type')).some((v) => v.includes('multipart/mixed')));
  await screenshot(page, 'tab-headers');
});

uiTest('Parts tab lists every MIME part, each downloadable', async ({ engine, page }) => {
  const { sent, expect } = await openFixture(engine, page);
  const msg = (await api(engine, `/api/v1/message/${sent.id}`)).json;
  const pdfPart = msg.Attachments.find((a) => a.FileName === expect.pdfName).PartID;
  const pngPart = msg.Inline.find((a) => a.FileName === expect.pngName).PartID;

  await openTab(page, 'parts');
  const tree = page.getByTestId('parts-tree');
  await tree.waitFor();
  for (const type of ['multipart/mixed', 'multipart/alternative', 'text/plain', 'text/html', 'image/png', 'application/pdf']) {
    await expectText(tree, type, { message: `parts-tree does not mention ${type}` });
  }
  const ids = await tree.getByTestId('part-node').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-part-id')));
  assert.ok(ids.includes(pdfPart) && ids.includes(pngPart), `part-node data-part-ids ${JSON.stringify(ids)} include ${pdfPart} and ${pngPart}`);

  const pdfNode = tree.locator(`[data-testid="part-node"][data-part-id="${pdfPart}"]`);
  assert.deepEqual(await fetchBytes(await hrefOf(pdfNode)), expect.pdf, 'the PDF part downloads as sent');
  const pngNode = tree.locator(`[data-testid="part-node"][data-part-id="${pngPart}"]`);
  assert.deepEqual(await fetchBytes(await hrefOf(pngNode)), expect.png, 'the inline PNG part downloads as sent');
  await screenshot(page, 'tab-parts');
});

uiTest('Attachments tab lists the PDF, downloadable', async ({ engine, page }) => {
  const { sent, expect } = await openFixture(engine, page);
  const msg = (await api(engine, `/api/v1/message/${sent.id}`)).json;
  const pdfPart = msg.Attachments.find((a) => a.FileName === expect.pdfName).PartID;

  const panel = await openTab(page, 'attachments');
  const item = panel.locator(`[data-testid="attachment-item"][data-part-id="${pdfPart}"]`);
  await item.waitFor();
  await expectText(item, expect.pdfName);
  assert.deepEqual(await fetchBytes(await hrefOf(item)), expect.pdf, 'the attachment link serves the PDF as sent');
  await screenshot(page, 'tab-attachments');
});

uiTest('Envelope tab: MAIL FROM, every RCPT TO (the Bcc-only one too), HELO, transcript', async ({ engine, page }) => {
  const { expect } = await openFixture(engine, page);
  await openTab(page, 'envelope');
  const env = page.getByTestId('envelope-panel');
  await env.waitFor();
  await expectText(env.locator('.mail-from'), expect.mailFrom);
  await waitFor(
    async () => {
      const rcpts = await env.locator('.rcpt-to li').allTextContents();
      return expect.rcptTo.every((r) => rcpts.some((t) => t.includes(r)));
    },
    { message: `.rcpt-to li does not list all of ${expect.rcptTo.join(', ')}` },
  );
  await expectText(env.locator('.rcpt-to'), expect.bccOnly);
  await expectText(env.locator('.helo'), expect.helo);
  const transcript = env.locator('pre.transcript');
  await expectText(transcript, `EHLO ${expect.helo}`);
  await expectText(transcript, `MAIL FROM:<${expect.mailFrom}>`);
  await expectText(transcript, `RCPT TO:<${expect.bccOnly}>`);
  await screenshot(page, 'tab-envelope');
});

uiTest('action-download saves the .eml: the bytes of /raw, the bytes as sent', async ({ engine, page }) => {
  const { sent } = await openFixture(engine, page);
  const link = page.getByTestId('action-download');
  await link.waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  assert.match(download.suggestedFilename(), /\.eml$/, `download is named ${download.suggestedFilename()}`);
  const saved = await readFile(await download.path());
  const raw = (await api(engine, `/api/v1/message/${sent.id}/raw`)).bytes;
  assert.ok(saved.equals(raw), `downloaded ${saved.length} bytes differ from /raw's ${raw.length}`);
  assert.ok(saved.equals(sent.raw), `downloaded ${saved.length} bytes differ from the ${sent.raw.length} sent`);
  await expectAttribute(page.getByTestId('message-view'), 'data-id', sent.id);
});
