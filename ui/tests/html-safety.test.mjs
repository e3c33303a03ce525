// Captured mail is hostile: remote content stays blocked until the user allows it, and
// nothing in a message ever runs or reaches out. A local HTTP server (the recorder)
// records every request the preview makes; the XSS corpus (data/xss-payloads.json)
// is its canary: every payload that could run script asks it for /js/<n>, every
// remote resource is a URL on it.

import assert from 'node:assert/strict';

import { expectText, htmlMail, openMessage, openTab, openUI, previewFrame, screenshot, sendMail, sleep, startRecorder, uiTest, waitFor } from './harness.mjs';
import { CORPUS, MESSAGES, corpusMessages } from './xss-corpus.mjs';

/** Time given to a preview to make any request it is going to make on its own. */
const SETTLE_MS = 1500;

uiTest('remote images are blocked until load-remote is clicked', async ({ engine, page, t }) => {
  const rec = await startRecorder();
  t.after(() => rec.close());
  const html =
    `<html><body><h1 id="marker">Newsletter</h1>` +
    `<p>A tracking pixel and a remote logo:</p>` +
    `<img id="remote-img" alt="remote" src="${rec.url('/remote-logo.png')}" width="2" height="2">` +
    `<div style="background-image:url('${rec.url('/remote-background.png')}')">styled</div>` +
    `</body></html>`;
  const msg = await sendMail(engine.smtpPort, htmlMail(html, { subject: 'Remote content inside' }));

  await openUI(page, engine);
  await openMessage(page, msg.id);
  await openTab(page, 'html');
  const frame = await previewFrame(page);
  await frame.locator('#marker').waitFor();
  const bar = page.getByTestId('remote-blocked-bar');
  await bar.waitFor({ state: 'visible' });
  await sleep(SETTLE_MS);
  assert.deepEqual(
    rec.requests.map((r) => r.url),
    [],
    'the preview reached the remote server before "load remote content" was clicked',
  );
  await screenshot(page, 'remote-blocked');

  await bar.getByTestId('load-remote').click();
  await waitFor(() => rec.requests.some((r) => r.url === '/remote-logo.png'), {
    message: 'after load-remote no request for the remote image reached the server',
  });
  const frameAfter = await previewFrame(page);
  await waitFor(
    () => frameAfter.evaluate(() => document.getElementById('remote-img')?.naturalWidth > 0),
    { message: 'the remote image did not load after load-remote' },
  );
});

/** Text as the UI shows it and as the corpus has it: control characters and runs of space as one space. */
const squash = (text) => text.replace(/[\s\x00-\x1f\x7f]+/g, ' ').trim();

/**
 * What in a document could run or reach out, as a list of findings: event handler
 * attributes, script URLs, elements that load or submit anything. `inPreview`: the
 * message's own document (no scripts, no frames there at all); otherwise the UI's,
 * whose own bundle and the preview frame are expected.
 */
function dangers(inPreview) {
  const found = [];
  for (const element of document.querySelectorAll('*')) {
    const name = element.localName;
    for (const attribute of element.attributes) {
      const value = attribute.value.replace(/[\s\x00-\x1f]+/g, '').toLowerCase();
      if (attribute.name.toLowerCase().startsWith('on')) found.push(`${name}[${attribute.name}]`);
      if (/^(javascript|vbscript):/.test(value)) found.push(`${name}[${attribute.name}=${value.slice(0, 30)}]`);
      // An image (SVG too) shown by <img> runs nothing and loads nothing.
      if (/^data:/.test(value) && !(name === 'img' && attribute.name === 'src' && value.startsWith('data:image/'))) {
        found.push(`${name}[${attribute.name}=${value.slice(0, 30)}]`);
      }
    }
    // The engine's own `<meta charset>` and `<base target="_blank">` are expected.
    if (name === 'base' && element.hasAttribute('href')) found.push('<base href>');
    if (name === 'meta' && element.hasAttribute('http-equiv')) found.push('<meta http-equiv>');
    const loads = ['object', 'embed', 'applet', 'frame', 'frameset', 'portal', 'form', 'input', 'button', 'textarea', 'select', 'isindex'];
    if (inPreview && ['script', 'iframe', 'svg', 'math'].includes(name)) found.push(`<${name}>`);
    // Remote style sheets stay, for "load remote content"; the CSP blocks them until then.
    if (inPreview && name === 'link' && element.getAttribute('rel') !== 'stylesheet') found.push(`<link rel=${element.rel}>`);
    if (!inPreview && name === 'script' && (!element.src || new URL(element.src).origin !== location.origin)) found.push('<script> not ours');
    if (!inPreview && name === 'iframe' && element.getAttribute('data-testid') !== 'html-frame') found.push('<iframe> not the preview');
    if (inPreview ? loads.includes(name) : ['object', 'embed', 'frame', 'portal'].includes(name)) found.push(`<${name}>`);
  }
  return found;
}

uiTest(`an XSS corpus of ${CORPUS.length} payloads in every field of ${MESSAGES} messages runs nothing and loads nothing`, async ({ engine, context, page, t, dialogs }) => {
  assert.ok(CORPUS.length >= 150, `the corpus has ${CORPUS.length} payloads`);
  const canary = await startRecorder();
  t.after(() => canary.close());
  const messages = corpusMessages(canary);
  // Control: in a page with no sandbox and no CSP the same HTML trips the canary, so
  // its silence below means something.
  const control = await startRecorder();
  t.after(() => control.close());
  const bare = await context.newPage();
  await bare.setContent(corpusMessages(control)[0].options.html).catch(() => {});
  await waitFor(() => control.requests.some((r) => r.url.startsWith('/js/')), { message: 'the canary is dead: no payload called it in an unprotected page' });
  await bare.close();
  for (const message of messages) message.id = (await sendMail(engine.smtpPort, message.options)).id;

  // Any script that runs, anywhere: the canary's /js/<n>, window.__pwned in any frame
  // of `target`, a dialog. A frame the CSP kept from loading never gets a document to
  // ask: it is given a second.
  const pwned = async (where, target = page) => {
    for (const frame of target.frames()) {
      const asked = frame.evaluate(() => window.__pwned).catch(() => undefined);
      const value = await Promise.race([asked, sleep(1000)]);
      assert.equal(value, undefined, `${where}: payload ${value} ran (window.__pwned in ${frame.url()})`);
    }
    assert.deepEqual(dialogs, [], `${where}: a script opened a dialog`);
  };

  await openUI(page, engine);
  const title = await page.title();
  for (const [m, { id, batch }] of messages.entries()) {
    await openMessage(page, id);
    await expectText(page.getByTestId('message-subject'), new RegExp(`^XSS ${m}: `));
    const shown = squash(await page.getByTestId('message-view').textContent());
    for (const p of batch) assert.ok(shown.includes(squash(p)), `message ${m}: subject or names not shown as text: ${p}`);

    await openTab(page, 'html');
    const iframe = page.getByTestId('html-frame');
    assert.doesNotMatch((await iframe.getAttribute('sandbox')) ?? 'no sandbox', /allow-scripts|no sandbox/, 'the preview frame may run scripts');
    const frame = await previewFrame(page);
    // Its first paragraph (hostile nesting further on may make the sanitizer drop the rest).
    await frame.getByText(`corpus ${m}`).waitFor({ state: 'attached' });
    assert.deepEqual(await frame.evaluate(dangers, true), [], `message ${m}: the sanitized HTML still holds these`);
    await pwned(`message ${m}, preview`);

    await openTab(page, 'text');
    await openTab(page, 'headers');
    const headers = squash(await page.getByTestId('headers-table').textContent());
    for (const p of batch) assert.ok(headers.includes(squash(p)), `message ${m}: header value not shown as text: ${p}`);
    const attachments = await openTab(page, 'attachments');
    await page.getByTestId('attachment-item').first().waitFor();
    const names = squash(await attachments.textContent());
    for (const p of batch) assert.ok(names.includes(squash(p)), `message ${m}: file name not shown as text: ${p}`);
    await openTab(page, 'parts');
    await openTab(page, 'source');
    // The check report quotes header values and names in its findings.
    await openTab(page, 'checks');
    await page.getByTestId('checks-score').waitFor();
    assert.deepEqual(await page.evaluate(dangers, false), [], `message ${m}: the UI's own page holds these`);
    await pwned(`message ${m}, tabs`);
  }

  // Mailpit's /view/{ID}.html, opened directly: the HTML as sent, under a sandbox CSP.
  const direct = await context.newPage();
  for (const { id } of messages) {
    for (const path of [`/view/${id}.html`, `/view/${id}.txt`]) {
      await direct.goto(engine.url + path);
      await pwned(path, direct);
    }
  }
  await direct.close();

  await sleep(SETTLE_MS);
  await pwned('the end');
  assert.equal(await page.title(), title, 'the page title changed: a script in a message reached the UI');
  assert.equal(page.url(), `${engine.url}/#/${messages.at(-1).id}`, 'a message navigated the UI away');
  const hits = canary.requests.map((r) => r.url);
  assert.deepEqual(hits, [], `with remote content blocked, the canary was asked for ${hits.length} URLs (/js/<n>: payload n ran; /leak/<n>: it loaded)`);
  await expectText(page.getByTestId('message-subject'), /^XSS 9: /);
  // Twenty-odd long names and links make a tall message header: room for it and the tabs.
}, { timeout: 180_000, context: { viewport: { width: 1400, height: 4000 } } });
