// The compare view's visual section: two stored messages differing in one block's
// background → Compare screenshots → both screenshots and the difference image (the
// engine's PNGs, at the chosen width), the share of changed pixels and the verdict the
// screenshots give (they judge the HTML body); a file side is rendered from its bytes
// and its screenshot and the difference image load from the engine's cache.

import assert from 'node:assert/strict';

import { expectAttribute, expectCount, expectText, htmlMail, openMessage, openUI, row, screenshot, sendMail, uiTest, waitFor } from './harness.mjs';

/** Rendering waits for the browser to start the first time: seconds, not the harness's default. */
const RENDER_TIMEOUT = 30_000;

const twoBlocks = (background) =>
  `<html><body style="margin:0;background:#fff"><div style="height:100px">Spring sale</div><div style="height:100px;background:${background}"></div></body></html>`;

uiTest('two messages compare by their screenshots, changed pixels shown in magenta', async ({ engine, page: ui }) => {
  const white = await sendMail(engine.smtpPort, htmlMail(twoBlocks('#ffffff'), { subject: 'Visual A' }));
  const blue = await sendMail(engine.smtpPort, htmlMail(twoBlocks('#2050c0'), { subject: 'Visual B' }));
  await openUI(ui, engine);
  await row(ui, white.id).getByTestId('row-check').check();
  await row(ui, blue.id).getByTestId('row-check').check();
  await ui.getByTestId('bulk-compare').click();

  const visual = ui.getByTestId('diff-visual');
  await expectCount(visual.locator('img'), 0);
  await visual.locator('input[type="number"]').fill('400');
  await ui.getByTestId('diff-visual-run').click();

  const percent = ui.getByTestId('diff-visual-percent');
  await waitFor(async () => (await percent.count()) === 1, { timeout: RENDER_TIMEOUT, message: 'the visual diff never came' });
  // The second block is half the page: 400 × 100 of 400 × 200 pixels.
  await expectText(percent, /^50\.00% of the pixels changed \(40,000 of 80,000\) at 400px, view as-sent, light\./);
  await expectAttribute(percent, 'data-equal', 'false');
  // The screenshots judge the HTML body; the subjects still differ.
  await expectText(ui.getByTestId('diff-visual-verdict'), /different: headers, visual\.$/);

  for (const testid of ['diff-visual-a', 'diff-visual-b', 'diff-visual-image']) {
    const img = ui.getByTestId(testid);
    const size = await waitFor(
      () => img.evaluate((el) => el.complete && el.naturalWidth > 0 && `${el.naturalWidth}x${el.naturalHeight}`),
      { timeout: RENDER_TIMEOUT, message: `${testid} did not load` },
    );
    assert.equal(size, '400x200', testid);
  }
  const src = await ui.getByTestId('diff-visual-image').getAttribute('src');
  assert.equal(src, `/api/v1/diff.png?a=${white.id}&b=${blue.id}&width=400&view=as-sent&dark=none`);
  // The difference image's changed block is magenta, its unchanged one is not.
  const response = await ui.request.get(`${engine.url}${src}`);
  assert.equal(response.headers()['content-type'], 'image/png');
  const [changed, unchanged] = await ui.getByTestId('diff-visual-image').evaluate((img) => {
    const canvas = document.createElement('canvas');
    [canvas.width, canvas.height] = [img.naturalWidth, img.naturalHeight];
    const context = canvas.getContext('2d');
    context.drawImage(img, 0, 0);
    return [150, 50].map((y) => [...context.getImageData(200, y, 1, 1).data.slice(0, 3)]);
  });
  assert.deepEqual(changed, [255, 0, 255]);
  assert.notDeepEqual(unchanged, [255, 0, 255]);
  await screenshot(ui, 'diff-visual');
});

uiTest('a file compared visually is rendered from its bytes', async ({ engine, page: ui }) => {
  const sent = await sendMail(engine.smtpPort, htmlMail(twoBlocks('#ffffff'), { subject: 'Visual file' }));
  // The same message with a 20 × 20 square in its second block (0.5% of 400 × 200
  // pixels), as a file: its bytes as sent.
  const square = '<div style="height:100px;background:#ffffff"><div style="width:20px;height:20px;background:#000"></div></div>';
  const changed = await sendMail(
    engine.smtpPort,
    htmlMail(twoBlocks('#ffffff').replace('<div style="height:100px;background:#ffffff"></div>', square), { subject: 'Visual file' }),
  );
  await openUI(ui, engine);
  await openMessage(ui, sent.id);
  await ui.getByTestId('action-compare-file').setInputFiles([{ name: 'golden.eml', mimeType: 'message/rfc822', buffer: changed.raw }]);
  await expectAttribute(ui.getByTestId('diff-summary'), 'data-equal', 'false');
  await ui.getByTestId('diff-visual').locator('input[type="number"]').fill('400');
  await ui.getByTestId('diff-visual-run').click();
  const percent = ui.getByTestId('diff-visual-percent');
  await waitFor(async () => (await percent.count()) === 1, { timeout: RENDER_TIMEOUT, message: 'the visual diff never came' });
  await expectText(percent, /^0\.50% of the pixels changed \(400 of 80,000\)/);
  // Only the HTML changed, by half a percent of the pixels: with no threshold that is a difference.
  await expectText(ui.getByTestId('diff-visual-verdict'), /different: visual\.$/);
  await expectCount(ui.getByTestId('diff-visual-file-note'), 1);
  // Both screenshots and the difference image show, the file's from the engine's cache.
  for (const testid of ['diff-visual-a', 'diff-visual-b', 'diff-visual-image']) {
    const img = ui.getByTestId(testid);
    const size = await waitFor(
      () => img.evaluate((el) => el.complete && el.naturalWidth > 0 && `${el.naturalWidth}x${el.naturalHeight}`),
      { timeout: RENDER_TIMEOUT, message: `${testid} did not load` },
    );
    assert.equal(size, '400x200', testid);
  }
  assert.match(await ui.getByTestId('diff-visual-b').getAttribute('src'), /^\/api\/v1\/diff\/capture\/[0-9a-f]{64}\.png$/);
  assert.match(await ui.getByTestId('diff-visual-image').getAttribute('src'), /^\/api\/v1\/diff\/capture\/[0-9a-f]{64}\.png$/);
});
