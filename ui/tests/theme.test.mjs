// Dark theme: following the system, and chosen with theme-toggle.

import assert from 'node:assert/strict';

import { multipartMail, openMessage, openUI, plainMail, screenshot, sendMail, uiTest, waitFor } from './harness.mjs';

/** Relative luminance (0 black … 1 white) of the app's first opaque background, up the tree. */
function appBackground(page) {
  return page.getByTestId('app').evaluate((el) => {
    for (let e = el; e; e = e.parentElement) {
      const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/.exec(getComputedStyle(e).backgroundColor);
      if (m && (m[4] === undefined || Number(m[4]) > 0.5)) {
        const [r, g, b] = [m[1], m[2], m[3]].map((v) => Number(v) / 255);
        return { color: m[0], luminance: 0.2126 * r + 0.7152 * g + 0.0722 * b };
      }
    }
    return { color: 'none (transparent up to <html>)', luminance: 1 };
  });
}

async function seed(engine) {
  await sendMail(engine.smtpPort, plainMail({ subject: 'Dark mode check' }));
  return sendMail(engine.smtpPort, multipartMail().options);
}

uiTest(
  'follows a dark system theme',
  async ({ engine, page }) => {
    const msg = await seed(engine);
    await openUI(page, engine);
    await openMessage(page, msg.id);
    const bg = await waitFor(async () => {
      const b = await appBackground(page);
      return b.luminance < 0.3 && b;
    }, { message: 'with prefers-color-scheme: dark the app background is not dark' });
    assert.ok(bg.luminance < 0.3);
    await screenshot(page, 'dark-system');
  },
  { context: { colorScheme: 'dark' } },
);

uiTest(
  'theme-toggle switches a light UI to dark',
  async ({ engine, page }) => {
    const msg = await seed(engine);
    await openUI(page, engine);
    await openMessage(page, msg.id);
    const light = await appBackground(page);
    assert.ok(light.luminance > 0.6, `the light theme's background is light (${light.color})`);
    await screenshot(page, 'light');

    const toggle = page.getByTestId('theme-toggle');
    if ((await toggle.evaluate((e) => e.tagName)) === 'SELECT') {
      await toggle.selectOption('dark');
    } else {
      // light → dark → system cycles, or a menu: click until dark, at most three times.
      for (let i = 0; i < 3 && (await appBackground(page)).luminance >= 0.3; i++) {
        await toggle.click();
        // A menu that opened from the toggle: choose its dark item.
        const item = page.getByRole('menu').getByRole('menuitemradio', { name: /dark/i });
        if (await item.count()) await item.first().click();
        await page.waitForTimeout(300);
      }
    }
    await waitFor(async () => (await appBackground(page)).luminance < 0.3, { message: 'theme-toggle never made the app dark' });
    // Switching the theme leaves the shown message alone.
    assert.equal(await page.getByTestId('message-view').getAttribute('data-id'), msg.id);
    await screenshot(page, 'dark-toggle');
  },
  { context: { colorScheme: 'light' } },
);
