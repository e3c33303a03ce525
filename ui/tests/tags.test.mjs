// Tags: chips on list rows and in the message header (from X-Tags and a plus
// address), a click searches for the tag, and tags set through the API show live.

import assert from 'node:assert/strict';

import { api, expectAttribute, openMessage, openUI, plainMail, row, screenshot, sendMail, uiTest, waitFor } from './harness.mjs';

/** The tag chips' texts, in order. */
const chips = (locator) => locator.evaluateAll((nodes) => nodes.map((n) => n.textContent.trim()));

uiTest('tags show as chips, a click searches for the tag, API changes show live', async ({ engine, page }) => {
  const tagged = await sendMail(
    engine.smtpPort,
    plainMail({ subject: 'Tagged mail', to: 'bob+signup@example.test', headers: { 'X-Tags': 'alpha, big deal' } }),
  );
  const plain = await sendMail(engine.smtpPort, plainMail({ subject: 'Untagged mail' }));
  await openUI(page, engine);

  const taggedChips = row(page, tagged.id).getByTestId('row-tag');
  await waitFor(async () => (await chips(taggedChips)).join('|') === 'alpha|big deal|signup', {
    message: 'the tagged row does not show alpha, big deal, signup',
  });
  assert.equal(await row(page, plain.id).getByTestId('row-tag').count(), 0);

  // A row's chip searches for its tag (quoted when it has a space).
  await taggedChips.filter({ hasText: 'big deal' }).click();
  assert.equal(await page.getByTestId('search-input').inputValue(), 'tag:"big deal"');
  await expectAttribute(page.getByTestId('message-list'), 'data-total', '1');

  // So does a chip in the message header.
  await openMessage(page, tagged.id);
  const headerChips = page.getByTestId('message-tag');
  await waitFor(async () => (await chips(headerChips)).join('|') === 'alpha|big deal|signup', {
    message: 'the message header does not show alpha, big deal, signup',
  });
  await screenshot(page, 'tags');
  await headerChips.filter({ hasText: 'signup' }).click();
  assert.equal(await page.getByTestId('search-input').inputValue(), 'tag:signup');
  await expectAttribute(page.getByTestId('message-list'), 'data-total', '1');

  // Back to everything; tags set through the API reach the row over the event stream.
  await page.getByTestId('search-input').fill('');
  await expectAttribute(page.getByTestId('message-list'), 'data-total', '2');
  const set = await api(engine, '/api/v1/tags', { method: 'PUT', body: { IDs: [plain.id], Tags: ['fresh'] } });
  assert.equal(set.status, 200, set.text);
  await waitFor(async () => (await chips(row(page, plain.id).getByTestId('row-tag'))).join() === 'fresh', {
    message: 'the row did not show the tag set through the API',
  });
});
