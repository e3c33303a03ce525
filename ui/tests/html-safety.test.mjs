// Captured HTML is hostile: remote content stays blocked until the user allows it, and
// no script in a message ever runs. A local HTTP server records every request the
// preview makes.

import assert from 'node:assert/strict';

import { expectText, htmlMail, openMessage, openTab, openUI, previewFrame, screenshot, sendMail, sleep, startRecorder, uiTest, waitFor } from './harness.mjs';

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

uiTest('scripts in an HTML message never run', async ({ engine, page, t, pageLog, dialogs }) => {
  const rec = await startRecorder();
  t.after(() => rec.close());
  const pwn = (how) =>
    `try{window.parent.document.title='pwned'}catch(e){};` +
    `document.title='pwned';document.body&&document.body.setAttribute('data-pwned','${how}');` +
    `console.log('pwned-${how}');new Image().src='${rec.url(`/${how}`)}';` +
    `try{fetch('${rec.url(`/${how}-fetch`)}')}catch(e){};alert('pwned-${how}')`;
  const html =
    `<html><head><script>${pwn('head-script')}</script></head>` +
    `<body onload="${pwn('body-onload')}">` +
    `<h1 id="marker">Totally harmless</h1>` +
    `<script>${pwn('script')}</script>` +
    `<img src="x" onerror="${pwn('img-onerror')}">` +
    `<svg onload="${pwn('svg-onload')}" width="10" height="10"></svg>` +
    `<details open ontoggle="${pwn('details-ontoggle')}"><summary>s</summary></details>` +
    `<iframe srcdoc="<script>parent.parent.document.title='pwned'</script>"></iframe>` +
    `</body></html>`;
  const msg = await sendMail(engine.smtpPort, htmlMail(html, { subject: 'Script attack' }));

  await openUI(page, engine);
  const title = await page.title();
  await openMessage(page, msg.id);
  await openTab(page, 'html');
  const iframe = page.getByTestId('html-frame');
  const sandbox = await iframe.getAttribute('sandbox');
  assert.notEqual(sandbox, null, 'the preview iframe has no sandbox attribute');
  assert.doesNotMatch(sandbox, /allow-scripts/, `the preview iframe sandbox allows scripts: "${sandbox}"`);
  const frame = await previewFrame(page);
  await frame.locator('#marker').waitFor();
  await sleep(SETTLE_MS);

  assert.equal(await page.title(), title, 'the page title changed: a script in the message reached the UI');
  assert.equal(await frame.evaluate(() => document.body.getAttribute('data-pwned')), null, 'a script ran inside the preview');
  assert.notEqual(await frame.evaluate(() => document.title), 'pwned', 'a script set the preview document title');
  assert.deepEqual(dialogs, [], 'a script opened a dialog');
  assert.deepEqual(pageLog.filter((l) => l.includes('pwned-')), [], 'a script logged to the console');
  assert.deepEqual(rec.requests.map((r) => r.url), [], 'a script (or a remote load) reached the recorder');
  await expectText(page.getByTestId('message-subject'), 'Script attack');
});
