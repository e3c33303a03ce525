// The compare view: two checked rows → Compare → a report per part (headers with the
// volatile ones hidden behind a toggle, text, normalized HTML with its changed
// elements marked in each preview, MIME structure, checks) under an equal/different
// banner; a message compared with an .eml file from the message view; hostile text
// from the messages shown as text.

import assert from 'node:assert/strict';

import { expectAttribute, expectCount, expectText, htmlMail, openMessage, openUI, row, screenshot, sendMail, uiTest, waitFor } from './harness.mjs';

/** Shown in the subject and a header: must stay text. */
const HOSTILE = '<img src=x onerror="window.__pwned=1">';

function newsletter(price, extra = {}) {
  return htmlMail(`<html><body><h1>Spring sale</h1><p class="price">Everything at ${price}.</p><p>See you</p></body></html>`, {
    subject: `Sale ${HOSTILE}`,
    text: `Everything at ${price}.\nSee you\n`,
    headers: { 'X-Campaign': `spring ${HOSTILE}` },
    ...extra,
  });
}

uiTest('two checked messages compare part by part, volatile headers on request', async ({ engine, page }) => {
  const before = await sendMail(engine.smtpPort, newsletter('$10'));
  const after = await sendMail(engine.smtpPort, newsletter('$12', { headers: { 'X-Campaign': 'spring 2' } }));
  await openUI(page, engine);

  await row(page, before.id).getByTestId('row-check').check();
  const compare = page.getByTestId('bulk-compare');
  assert.equal(await compare.isDisabled(), true, 'Compare needs exactly two messages');
  await row(page, after.id).getByTestId('row-check').check();
  assert.equal(await compare.isDisabled(), false);
  await compare.click();

  const view = page.getByTestId('diff-view');
  await expectText(page.getByTestId('diff-summary'), /Different: headers, text, HTML, structure/);
  await expectAttribute(page.getByTestId('diff-summary'), 'data-equal', 'false');
  // A is the older message.
  await expectText(page.getByTestId('diff-a'), before.id);
  await expectText(page.getByTestId('diff-b'), after.id);

  const headers = page.getByTestId('diff-headers');
  const campaign = headers.locator('[data-testid="diff-header-change"][data-name="X-Campaign"]');
  await expectText(campaign, `spring ${HOSTILE}`);
  await expectCount(headers.getByTestId('diff-header-ignored'), 0);
  await page.getByTestId('diff-show-volatile').check();
  await expectText(headers.locator('[data-testid="diff-header-ignored"][data-name="Message-Id"]'), /volatile, changed/);
  await expectCount(headers.locator('[data-testid="diff-header-ignored"][data-name="Date"]'), 1);

  await expectText(page.getByTestId('diff-text-lines'), /-Everything at \$10\.\s+\+Everything at \$12\./);
  await expectText(page.getByTestId('diff-html-lines'), /-\s+Everything at \$10\./);
  const changed = 'html > body > p:nth-of-type(1)';
  await expectText(page.getByTestId('diff-changed-b'), changed);
  await expectText(page.getByTestId('diff-structure'), /sha256:/);
  await expectText(page.getByTestId('diff-checks'), /No error or warning that the other lacks/);

  // Each preview marks its changed element (the engine's highlight, in a sandboxed frame).
  for (const side of ['a', 'b']) {
    const frame = page.getByTestId(`diff-preview-${side}`);
    assert.equal(await frame.getAttribute('sandbox'), 'allow-popups allow-popups-to-escape-sandbox');
    const content = await (await frame.elementHandle()).contentFrame();
    await waitFor(async () => (await content.locator('#pigeonhole-highlight').count()) === 1, {
      message: `preview ${side} never marked ${changed}`,
    });
    assert.match(await content.locator('#pigeonhole-highlight').textContent(), /Everything at/);
  }

  // Message content is text, nowhere markup.
  assert.equal(await view.locator('img').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await screenshot(page, 'diff-different');

  await page.getByTestId('diff-close').click();
  await expectCount(view, 0);
});

uiTest('a message compared with an .eml file: the same mail is equal', async ({ engine, page }) => {
  const sent = await sendMail(engine.smtpPort, newsletter('$10'));
  await openUI(page, engine);
  await openMessage(page, sent.id);
  // Sent again: a new Date, Message-ID and boundary, nothing else.
  const original = sent.raw.toString('latin1');
  const boundary = /boundary="?([^";\r\n]+)"?/.exec(original)[1];
  const resent = Buffer.from(
    original
      .replace(/^Date: .*$/m, 'Date: Tue, 08 Dec 2026 09:30:00 +0000')
      .replace(/^Message-ID: .*$/im, 'Message-ID: <resent@example.test>')
      .replaceAll(boundary, 'other-boundary-1234'),
    'latin1',
  );
  assert.notEqual(resent.toString('latin1'), original);
  await page.getByTestId('action-compare-file').setInputFiles([{ name: 'golden.eml', mimeType: 'message/rfc822', buffer: resent }]);
  await expectAttribute(page.getByTestId('diff-summary'), 'data-equal', 'true');
  await expectText(page.getByTestId('diff-summary'), /^Equal/);
  await expectText(page.getByTestId('diff-b'), /^golden\.eml/);
  await expectText(page.getByTestId('diff-text'), 'No difference.');
  await screenshot(page, 'diff-equal-file');

  const changed = Buffer.from(sent.raw.toString('latin1').replaceAll('$10', '$99'), 'latin1');
  await page.getByTestId('diff-close').click();
  await openMessage(page, sent.id);
  await page.getByTestId('action-compare-file').setInputFiles([{ name: 'changed.eml', mimeType: 'message/rfc822', buffer: changed }]);
  await expectAttribute(page.getByTestId('diff-summary'), 'data-equal', 'false');
  // The file has no stored preview; A's is still shown.
  await expectCount(page.getByTestId('diff-preview-b'), 0);
  await expectCount(page.getByTestId('diff-preview-a'), 1);
});
