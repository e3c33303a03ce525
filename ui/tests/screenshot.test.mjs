// Screenshots from the HTML preview: the "Screenshot" button downloads the PNG the
// engine's headless Chromium renders at the preview's width, and the grid shows the
// message across widths × views × dark modes, each cell asked for as it comes into
// sight, a few at a time, waiting out a full queue (503 + Retry-After), never a broken
// image.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { expectAttribute, expectCount, expectText, htmlMail, openMessage, openUI, screenshot, sendMail, uiTest, waitFor } from './harness.mjs';

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
  const { state, ...named } = await first.evaluate((cell) => ({ ...cell.dataset }));
  assert.deepEqual(named, { testid: 'screenshot-cell', width: '375', view: 'as-sent', dark: 'none' });
  assert.notEqual(state, 'error');
  assert.match(await first.textContent(), /375px · as-sent · dark: none/);
  const combinations = await cells.evaluateAll((all) => new Set(all.map((c) => `${c.dataset.width}/${c.dataset.view}/${c.dataset.dark}`)).size);
  assert.equal(combinations, 84, 'each cell a different combination');

  // The first row's images load (rendered by the engine's browser) at their widths.
  const loaded = await waitFor(
    async () => {
      const widths = await cells.evaluateAll((all) => all.slice(0, 3).map((cell) => cell.querySelector('img')?.complete && cell.querySelector('img').naturalWidth));
      return widths.every((w) => w > 0) && widths;
    },
    { timeout: RENDER_TIMEOUT, message: "the first row's screenshots did not load" },
  );
  assert.deepEqual(loaded, [375, 768, 1024]);
  // Cells out of sight are not asked for yet.
  await expectAttribute(cells.last(), 'data-state', 'hidden');
  await screenshot(page, 'screenshot-grid');

  await page.getByTestId('screenshot-grid-close').click();
  await page.getByTestId('html-frame').waitFor();
});

uiTest('the whole grid loads a few at a time, waits out a full queue, and shows no broken image', async ({ engine, page }) => {
  const msg = await sendMail(engine.smtpPort, htmlMail(HTML, { subject: 'Screenshot grid load' }));
  // Count the screenshot requests the engine has open at once; the first request of one cell is
  // answered as the engine answers past its queue (503 + Retry-After), and one
  // other cell's as a refusal, to see both paths.
  // Counted from when a request reaches the route to when the engine has answered it.
  let open = 0;
  let mostOpen = 0;
  let refusedOnce = false;
  await page.route('**/screenshot.png?*', async (route) => {
    const url = new URL(route.request().url());
    const is = (width, view, dark) => url.searchParams.get('width') === width && url.searchParams.get('view') === view && url.searchParams.get('dark') === dark;
    if (is('768', 'outlook', 'none') && !refusedOnce) {
      refusedOnce = true;
      return route.fulfill({ status: 503, headers: { 'Retry-After': '1', 'Content-Type': 'application/json' }, body: JSON.stringify({ Error: '64 screenshots are already waiting' }) });
    }
    if (is('1024', 'gmail', 'full')) {
      return route.fulfill({ status: 400, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ Error: 'the view refused: try another' }) });
    }
    mostOpen = Math.max(mostOpen, ++open);
    let response;
    try {
      response = await route.fetch({ timeout: RENDER_TIMEOUT });
    } finally {
      open -= 1;
    }
    return route.fulfill({ response });
  });
  await openUI(page, engine);
  await openMessage(page, msg.id);
  await page.getByTestId('screenshot-grid-open').click();
  const grid = page.getByTestId('screenshot-grid');
  await grid.waitFor();
  const cells = grid.getByTestId('screenshot-cell');
  await expectCount(cells, 84);

  // Scroll through it all, so every cell is asked for (84 > the engine's 64 waiting).
  await waitFor(
    async () => {
      await grid.locator('.grid').evaluate((el) => el.scrollBy(0, 600));
      const states = await cells.evaluateAll((all) => all.map((cell) => cell.dataset.state));
      return states.every((state) => state === 'loaded' || state === 'error');
    },
    { timeout: 180_000, interval: 250, message: 'the grid never finished loading' },
  );
  const outcomes = await cells.evaluateAll((all) =>
    all.map((cell) => {
      const img = cell.querySelector('img');
      return { state: cell.dataset.state, loaded: Boolean(img && img.complete && img.naturalWidth > 0), text: cell.querySelector('[data-testid="screenshot-cell-status"]')?.textContent ?? '' };
    }),
  );
  const errors = outcomes.filter((cell) => cell.state === 'error');
  assert.deepEqual(errors.map((cell) => cell.text), ['the view refused: try another'], 'only the refused cell, with its text');
  assert.ok(outcomes.filter((cell) => cell.state === 'loaded').every((cell) => cell.loaded), 'every image loaded, none broken');
  assert.equal(outcomes.filter((cell) => cell.loaded).length, 83);
  assert.ok(refusedOnce, 'the 503 was answered');
  assert.ok(mostOpen <= 4, `at most 4 screenshots asked for at once, not ${mostOpen}`);
}, { timeout: 240_000 });

uiTest('a cell refused for a full queue says "waiting…" until it asks again', async ({ engine, page }) => {
  const msg = await sendMail(engine.smtpPort, htmlMail(HTML, { subject: 'Screenshot grid wait' }));
  let refused = 0;
  const firstCell = (url) =>
    url.pathname.endsWith('/screenshot.png') && url.search === '?width=375&view=as-sent&dark=none';
  await page.route(firstCell, async (route) => {
    refused += 1;
    if (refused === 1) {
      return route.fulfill({ status: 503, headers: { 'Retry-After': '3', 'Content-Type': 'application/json' }, body: JSON.stringify({ Error: 'busy' }) });
    }
    return route.continue();
  });
  await openUI(page, engine);
  await openMessage(page, msg.id);
  await page.getByTestId('screenshot-grid-open').click();
  const first = page.getByTestId('screenshot-cell').first();
  await expectAttribute(first, 'data-state', 'waiting', { timeout: RENDER_TIMEOUT });
  await expectText(first.getByTestId('screenshot-cell-status'), /^waiting…$/);
  await expectAttribute(first, 'data-state', 'loaded', { timeout: RENDER_TIMEOUT });
  assert.equal(refused, 2, 'asked again after Retry-After');
  assert.ok(await first.locator('img').evaluate((img) => img.complete && img.naturalWidth === 375));
});
