// Screenshots from the HTML preview: the "Screenshot" button downloads the PNG the
// engine's headless Chromium renders at the preview's width, and the grid shows the
// message across widths × views × dark modes, each cell a lazily loaded <img>.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { expectCount, htmlMail, openMessage, openUI, screenshot, sendMail, uiTest, waitFor } from './harness.mjs';

/** Width and height from a PNG's IHDR chunk. */
function pngSize(bytes) {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

const HTML = '<html><body style="margin:0;background:#2050c0"><div style="height:200px;color:#fff">Screenshot me</div></body></html>';

/** Rendering waits for the browser to start the first time: seconds, not the harness's default. */
const RENDER_TIMEOUT = 30_000;

uiTest('the Screenshot button downloads the preview as a PNG at its width', async ({ engine, page }) => {
  const msg = await sendMail(engine.smtpPort, htmlMail(HTML, { subject: 'Screenshot button' }));
  await openUI(page, engine);
  await openMessage(page, msg.id);

  const button = page.getByTestId('action-screenshot');
  await page.getByTestId('width-desktop').click();
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: RENDER_TIMEOUT }), button.click()]);
  const png = await readFile(await download.path());
  assert.deepEqual(pngSize(png), { width: 1024, height: 200 });

  await page.getByTestId('width-phone').click();
  assert.match(await button.getAttribute('href'), new RegExp(`^/api/v1/message/${msg.id}/screenshot\\.png\\?width=375$`));
  // The preview's dark mode and client view go with it.
  await page.getByTestId('dark-preview').locator('input').check();
  assert.match(await button.getAttribute('href'), /width=375&dark=prefers$/);
  await page.getByTestId('render-as').selectOption('outlook');
  await page.getByTestId('dark-mode').selectOption('full');
  assert.match(await button.getAttribute('href'), /width=375&view=outlook&dark=full$/);
});

uiTest('the screenshot grid shows every width, view and dark mode, loading as it scrolls', async ({ engine, page }) => {
  const msg = await sendMail(engine.smtpPort, htmlMail(HTML, { subject: 'Screenshot grid' }));
  await openUI(page, engine);
  await openMessage(page, msg.id);

  await page.getByTestId('screenshot-grid-open').click();
  const grid = page.getByTestId('screenshot-grid');
  await grid.waitFor();
  const cells = grid.getByTestId('screenshot-cell');
  await expectCount(cells, 3 * 7 * 4);

  const first = cells.first();
  assert.deepEqual(
    await first.evaluate((cell) => ({ ...cell.dataset })),
    { testid: 'screenshot-cell', width: '375', view: 'as-sent', dark: 'none' },
  );
  assert.match(await first.textContent(), /375px · as-sent · dark: none/);
  const combinations = await cells.evaluateAll((all) => new Set(all.map((c) => `${c.dataset.width}/${c.dataset.view}/${c.dataset.dark}`)).size);
  assert.equal(combinations, 84, 'each cell a different combination');

  // The first row's images load (rendered by the engine's browser) at their widths.
  const loaded = await waitFor(
    async () => {
      const widths = await cells.locator('img').evaluateAll((imgs) => imgs.slice(0, 3).map((img) => img.complete && img.naturalWidth));
      return widths.every((w) => w > 0) && widths;
    },
    { timeout: RENDER_TIMEOUT, message: "the first row's screenshots did not load" },
  );
  assert.deepEqual(loaded, [375, 768, 1024]);
  const lazy = await cells.locator('img').evaluateAll((imgs) => imgs.every((img) => img.loading === 'lazy'));
  assert.ok(lazy, 'every cell loads lazily');
  await screenshot(page, 'screenshot-grid');

  await page.getByTestId('screenshot-grid-close').click();
  await page.getByTestId('html-frame').waitFor();
});
