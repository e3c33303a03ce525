// Delivery simulation in the browser UI: the toolbar's Simulation dialog shows the
// simulator addresses, refuses a bad rules file inline (naming the line) and saves
// a good one; mail a rule applied to shows the rule, and the auto-reply it caused,
// in its Envelope tab.

import assert from 'node:assert/strict';

import { api, expectText, openMessage, openTab, openUI, plainMail, screenshot, sendMail, uiTest, waitFor } from './harness.mjs';

uiTest('the simulation dialog edits the rules; the Envelope tab shows what applied', async ({ engine, page }) => {
  await openUI(page, engine);
  await page.getByTestId('simulation-button').click();
  const dialog = page.getByTestId('simulation-dialog');
  await dialog.waitFor({ state: 'visible' });
  await expectText(page.getByTestId('simulator-addresses'), /bounce@simulator\.test/);
  await expectText(page.getByTestId('simulator-addresses'), /greylist@simulator\.test/);

  const rules = page.getByTestId('simulation-rules');
  await rules.fill('[[rule]]\nname = "typo"\naction = "bouce"\n');
  await page.getByTestId('simulation-save').click();
  await expectText(page.getByTestId('simulation-error'), /line 3: unknown action "bouce"/);
  assert.equal((await api(engine, '/api/v1/rules')).json.Rules, '', 'a bad text must change nothing');
  await screenshot(page, 'simulation-dialog-error');

  const good = '[[rule]]\nname = "auto answer"\nrecipient = "*@ooo.test"\naction = "auto-reply"\n';
  await rules.fill(good);
  await page.getByTestId('simulation-save').click();
  await dialog.waitFor({ state: 'hidden' });
  await expectText(page.getByTestId('notice'), /Simulation rules saved/);
  assert.equal((await api(engine, '/api/v1/rules')).json.Rules, good);

  const sent = await sendMail(engine.smtpPort, plainMail({ to: 'away@ooo.test', subject: 'Are you there?' }));
  // The auto-reply is carried out after the commit; its line is then in the envelope.
  await waitFor(async () => (await api(engine, `/api/v1/message/${sent.id}/envelope`)).json?.Simulation?.Effects?.length, {
    message: 'the auto-reply never added its line to the envelope',
  });
  await openMessage(page, sent.id);
  await openTab(page, 'envelope');
  const simulation = page.getByTestId('envelope-simulation');
  await expectText(simulation.locator('.simulation-rule'), 'auto answer');
  await expectText(simulation.locator('.simulation-action'), 'auto-reply');
  await expectText(simulation.locator('.simulation-effects'), /an auto-reply to alice@example\.test in inbox default/);
  await screenshot(page, 'envelope-simulation');

  // Opening it again shows the saved text.
  await page.getByTestId('simulation-button').click();
  await expectText(page.getByTestId('simulation-dialog'), /Delivery simulation/);
  assert.equal(await page.getByTestId('simulation-rules').inputValue(), good);
});
