// The engine going away: the UI says so in plain words, and recovers when it is back.

import assert from 'node:assert/strict';

import { expectAttribute, openUI, plainMail, row, screenshot, sendMail, startEngine, uiTest, waitFor } from './harness.mjs';

/** Stop the engine (keeping its data) and wait for the banner; returns its text. */
async function stopAndSeeBanner(engine, page) {
  await engine.stop({ keepData: true });
  const banner = page.getByTestId('error-banner');
  await banner.waitFor({ state: 'visible' });
  const text = (await banner.textContent()).trim();
  assert.ok(text.length > 10, `error-banner says too little: "${text}"`);
  assert.doesNotMatch(text, /undefined|\[object|NaN|null/, `error-banner is not plain words: "${text}"`);
  await waitFor(async () => (await page.getByTestId('app').getAttribute('data-connected')) !== 'true', {
    message: 'app still says data-connected="true" with the engine stopped',
  });
  return text;
}

uiTest('error banner when the engine is stopped', async ({ engine, page }) => {
  const msg = await sendMail(engine.smtpPort, plainMail({ subject: 'Before the outage' }));
  await openUI(page, engine);
  await row(page, msg.id).waitFor();
  assert.equal(await page.getByTestId('error-banner').isVisible(), false, 'error-banner shown while all is well');
  await stopAndSeeBanner(engine, page);
  await screenshot(page, 'error-banner');
});

uiTest('the banner goes away and the list catches up when the engine is back', async ({ engine, page }) => {
  const before = await sendMail(engine.smtpPort, plainMail({ subject: 'Before the outage' }));
  await openUI(page, engine);
  await row(page, before.id).waitFor();
  await stopAndSeeBanner(engine, page);

  // The same ports and data folder, as after a restart.
  // (The first engine's data folder is removed by uiTest once this one has stopped.)
  const back = await startEngine({ smtp: engine.smtpAddress, http: `127.0.0.1:${engine.httpPort}`, dataDir: engine.dataDir });
  try {
    await page.getByTestId('error-banner').waitFor({ state: 'hidden', timeout: 20_000 });
    await expectAttribute(page.getByTestId('app'), 'data-connected', 'true', { timeout: 20_000 });
    const after = await sendMail(back.smtpPort, plainMail({ subject: 'After the outage' }));
    await row(page, after.id).waitFor({ state: 'visible' });
    await row(page, before.id).waitFor({ state: 'visible' });
  } finally {
    await back.stop();
  }
});
