// The UI's own page runs under a strict Content-Security-Policy (crates/pigeonhole/
// src/api/ui.rs). Every browser test fails on any violation in the page (harness.mjs
// `uiTest`), which proves the policy lets the whole UI work (the event WebSocket,
// pdf.js and its worker, the previews); this file proves the policy is there and
// refuses what it should: inline script and handlers, foreign connections, plugins,
// and framing by another page. (`eval` is refused too, as the header has no
// 'unsafe-eval', but script Playwright evaluates is exempt from the page's policy,
// so it cannot be tried from here.)

import assert from 'node:assert/strict';

import { api, expectCount, openUI, sleep, startRecorder, uiTest, waitFor } from './harness.mjs';

uiTest('the UI page sends its policy and refuses inline script, eval, foreign loads and framing', async ({ engine, page, context, cspViolations, t }) => {
  const index = await api(engine, '/');
  const policy = index.headers.get('content-security-policy') ?? '';
  for (const directive of ["script-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"]) {
    assert.ok(policy.split(';').map((d) => d.trim()).includes(directive), `${directive} missing from ${policy}`);
  }
  assert.doesNotMatch(policy, /unsafe-eval|script-src[^;]*unsafe-inline/);
  assert.equal(index.headers.get('x-frame-options'), 'DENY');
  assert.equal(index.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(index.headers.get('x-content-type-options'), 'nosniff');

  await openUI(page, engine);
  assert.deepEqual(cspViolations, [], 'the UI itself broke its policy');
  const foreign = await startRecorder();
  t.after(() => foreign.close());
  // What an injection into the UI would try; each must be refused and reported.
  const outcome = await page.evaluate(async (foreignUrl) => {
    const inline = document.createElement('script');
    inline.textContent = 'window.__inline = 1';
    document.head.append(inline);
    const handler = document.createElement('img');
    handler.setAttribute('onerror', 'window.__handler = 1');
    handler.src = 'data:,not-an-image';
    document.body.append(handler);
    const remote = await fetch(foreignUrl).then(() => 'fetched', () => 'refused');
    const plugin = document.createElement('object');
    plugin.data = foreignUrl;
    document.body.append(plugin);
    await new Promise((r) => setTimeout(r, 300));
    return { inline: window.__inline ?? null, handler: window.__handler ?? null, remote };
  }, foreign.url('/connect'));
  assert.deepEqual(outcome, { inline: null, handler: null, remote: 'refused' });
  await waitFor(() => cspViolations.length >= 4, { message: `the violations were not all reported: ${cspViolations.join('\n')}` });
  for (const directive of ['script-src-elem', 'script-src-attr', 'connect-src', 'object-src']) {
    assert.ok(cspViolations.some((v) => v.includes(` ${directive} refused`)), `no ${directive} violation in:\n${cspViolations.join('\n')}`);
  }
  assert.deepEqual(foreign.requests, [], 'a refused load still reached the foreign server');

  // Another page framing the UI (clickjacking) gets nothing.
  const framer = await context.newPage();
  await framer.setContent(`<iframe id="ui" src="${engine.url}/" width="800" height="600"></iframe>`);
  await sleep(1000);
  const inner = framer.frames().find((f) => f !== framer.mainFrame());
  const shown = inner ? await inner.locator('[data-testid=app]').count().catch(() => 0) : 0;
  assert.equal(shown, 0, 'the UI rendered inside another page');
  await framer.close();
  await expectCount(page.getByTestId('app'), 1);
}, { allowCspViolations: true });
