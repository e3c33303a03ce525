// The Checks tab: a message that trips checks in several categories, sent over SMTP,
// shown with its score, counts and checks by category; each "Show" jump lands on
// the header row, the MIME part, the source line or the preview element, highlighted
// and in view; the list's badge; hostile text shown as text; light and dark.

import assert from 'node:assert/strict';

import {
  api,
  expectAttribute,
  expectCount,
  expectText,
  makePng,
  openMessage,
  openTab,
  openUI,
  plainMail,
  previewFrame,
  row,
  screenshot,
  sendMail,
  uiTest,
  waitFor,
} from './harness.mjs';

/** Quoted into a finding's detail (the Bcc header's value): must show as text. */
const HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">';

/**
 * A message with problems: two Subject headers, a Bcc header, no Date or
 * Message-ID, an unclosed inner multipart, a text attachment with non-ASCII bytes
 * and no charset, HTML without a text part, its image far down the page and
 * without alt text; the envelope's sender domain differs from From.
 */
function troubledMail() {
  const html =
    '<html><body><h1>Sale</h1><div style="height:2400px">Scroll down</div>' +
    `<table><tr><td><img src="data:image/png;base64,${makePng(300, 80).toString('base64')}" width="300" height="80"></td></tr></table>` +
    '<p><a href="http://127.0.0.1:9/unsubscribe">Unsubscribe</a></p></body></html>';
  const raw = [
    'From: Shop <news@shop.example>',
    'To: dev@example.com',
    'Subject: Checks fixture',
    'Subject: Checks fixture (again)',
    `Bcc: "${HOSTILE_NAME}" <hidden@example.com>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="outer"',
    '',
    '--outer',
    'Content-Type: multipart/alternative; boundary="inner"',
    '',
    '--inner',
    'Content-Type: text/html; charset=utf-8',
    '',
    html,
    '--inner--',
    '--outer',
    'Content-Type: text/csv; name="report.csv"',
    'Content-Disposition: attachment; filename="report.csv"',
    'Content-Transfer-Encoding: 8bit',
    '',
    'name,city',
    'Zoë,Köln',
    '--outer',
    'Content-Type: multipart/related',
    '',
    'A multipart part without its boundary.',
    '--outer--',
    '',
  ].join('\r\n');
  return { raw, envelope: { from: 'bounce@mailer.example', to: ['dev@example.com'] } };
}

/** The report the engine gives (the same API the tab reads). */
const report = (engine, id) => api(engine, `/api/v1/message/${id}/checks`).then((r) => r.json);

async function openChecks(engine, page) {
  const sent = await sendMail(engine.smtpPort, troubledMail());
  await openUI(page, engine);
  await openMessage(page, sent.id);
  await openTab(page, 'checks');
  await page.getByTestId('checks-score').waitFor();
  return { sent, expected: await report(engine, sent.id) };
}

/** The jump of the first check `id` whose "Show" goes to `jump`. */
function showButton(page, id, jump) {
  return page.locator(`[data-testid=check-item][data-check-id="${id}"] [data-testid=check-show][data-jump=${jump}]`).first();
}

uiTest('the Checks tab shows the score, the counts and every category with a problem', async ({ engine, page }) => {
  const { expected } = await openChecks(engine, page);
  assert.ok(expected.Summary.Errors + expected.Summary.Warnings > 3, `the fixture trips checks: ${JSON.stringify(expected.Summary)}`);

  await expectText(page.getByTestId('checks-score'), String(expected.Score));
  await expectText(page.getByTestId('checks-errors'), `${expected.Summary.Errors} error`);
  await expectText(page.getByTestId('checks-warnings'), `${expected.Summary.Warnings} warning`);
  await expectText(page.getByTestId('checks-notices'), `${expected.Summary.Notices} notice`);
  await expectText(page.getByTestId('checks-passed'), `${expected.Summary.Passed} passed`);

  // One section per category in the report, in the engine's order, headed by its name.
  const order = ['smtp', 'headers', 'mime', 'auth', 'deliverability', 'html', 'links', 'accessibility', 'privacy', 'spam'];
  const categories = [...new Set(expected.Checks.map((c) => c.Category))].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  const shown = await page.getByTestId('check-category').evaluateAll((sections) => sections.map((s) => s.dataset.category));
  // The HTML section also holds the client-support table (the message has HTML).
  assert.deepEqual(shown.filter((c) => c !== 'html' || categories.includes('html')), categories);
  for (const category of ['smtp', 'headers', 'mime']) {
    const problems = expected.Checks.filter((c) => c.Category === category && c.Severity !== 'pass');
    assert.ok(problems.length > 0, `the fixture trips a ${category} check`);
    const section = page.locator(`[data-testid=check-category][data-category=${category}]`);
    for (const problem of problems) {
      const item = section.locator(`[data-testid=check-item][data-check-id="${problem.ID}"]`).first();
      await expectAttribute(item, 'data-severity', problem.Severity);
      await expectText(item, problem.Title);
      await expectText(item, problem.Detail);
      await expectText(item, problem.Fix.slice(0, 40));
    }
  }
  for (const id of ['headers.duplicate', 'headers.bcc-leaked', 'headers.date-missing', 'mime.charset-missing', 'mime.broken-structure']) {
    assert.ok(expected.Checks.some((c) => c.ID === id && c.Severity !== 'pass'), `${id} fires on the fixture`);
    await page.locator(`[data-testid=check-item][data-check-id="${id}"]`).first().waitFor();
  }

  // Passed checks are folded away, and open on a click.
  const passed = page.getByTestId('checks-passed-group').first();
  const firstPass = passed.locator('[data-testid=check-item]').first();
  assert.equal(await firstPass.isVisible(), false, 'passed checks start folded');
  await passed.locator('summary').click();
  await firstPass.waitFor({ state: 'visible' });
  await expectAttribute(firstPass, 'data-severity', 'pass');

  // The references open outside (a new window: the system browser in the desktop app).
  const reference = page.getByTestId('check-reference').first();
  assert.equal(await reference.getAttribute('target'), '_blank');
  assert.match(await reference.getAttribute('href'), /^https:\/\//);

  // The HTML check's client-support table is part of the tab.
  await page.getByTestId('html-check').waitFor();
  await expectText(page.getByTestId('html-check'), /% supported/);

  // The message's text in a finding is text, never markup.
  const leaked = page.locator('[data-testid=check-item][data-check-id="headers.bcc-leaked"] [data-testid=check-detail]');
  const leakedDetail = expected.Checks.find((c) => c.ID === 'headers.bcc-leaked').Detail;
  assert.ok(leakedDetail.includes('<img src=x onerror='), leakedDetail);
  assert.equal(await leaked.textContent(), leakedDetail);
  assert.equal(await page.getByTestId('checks-panel').locator('img').count(), 0, 'no element made from message text');
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await screenshot(page, 'tab-checks');
});

uiTest('"Show" jumps to the header row, the MIME part and the source line, highlighted', async ({ engine, page }) => {
  const { sent, expected } = await openChecks(engine, page);

  // A header: the Headers tab, with the Bcc row highlighted and in view.
  await showButton(page, 'headers.bcc-leaked', 'header').click();
  await expectAttribute(page.getByTestId('tab-headers'), 'aria-selected', 'true');
  const bccRow = page.locator('[data-testid=headers-table] tr[data-highlighted]');
  await expectCount(bccRow, 1);
  await expectText(bccRow.locator('th'), 'Bcc');
  await waitFor(() => bccRow.evaluate(inView), { message: 'the highlighted header row is not in view' });
  await screenshot(page, 'checks-jump-header');

  // A part: the Parts tab, with that part highlighted.
  await openTab(page, 'checks');
  const charset = expected.Checks.find((c) => c.ID === 'mime.charset-missing');
  await showButton(page, 'mime.charset-missing', 'part').click();
  await expectAttribute(page.getByTestId('tab-parts'), 'aria-selected', 'true');
  const part = page.locator('[data-testid=part-node][data-highlighted]');
  await expectCount(part, 1);
  await expectAttribute(part, 'data-part-id', charset.Where.Part);
  await expectText(part.locator('.line'), 'report.csv');

  // A line: the Source tab, with that line of the raw message highlighted and in view.
  await openTab(page, 'checks');
  const broken = expected.Checks.find((c) => c.ID === 'mime.broken-structure' && c.Where?.Line);
  await showButton(page, 'mime.broken-structure', 'line').click();
  await expectAttribute(page.getByTestId('tab-source'), 'aria-selected', 'true');
  const line = page.locator('[data-testid=source-view] [data-highlighted]');
  await expectCount(line, 1);
  const wanted = sent.raw.toString('utf8').split('\n')[broken.Where.Line - 1];
  assert.equal((await line.textContent()).replace(/\n$/, ''), wanted.replace(/\n$/, ''));
  await waitFor(() => line.evaluate(inView), { message: 'the highlighted source line is not in view' });
  await screenshot(page, 'checks-jump-line');
});

uiTest('"Show in preview" highlights the element in the sandboxed preview, scrolled into view', async ({ engine, page }) => {
  const { expected } = await openChecks(engine, page);
  const check = expected.Checks.find((c) => c.ID === 'accessibility.img-alt-missing' && c.Where?.Element);
  assert.ok(check, 'the fixture trips accessibility.img-alt-missing, which points at its <img>');
  await showButton(page, check.ID, 'element').click();
  await expectAttribute(page.getByTestId('tab-html'), 'aria-selected', 'true');
  await expectText(page.getByTestId('highlight-bar'), check.Where.Element);
  const frame = await previewFrame(page);
  const marked = await waitFor(
    () =>
      frame.evaluate(() => {
        const element = document.getElementById('pigeonhole-highlight');
        if (!element) return null;
        const box = element.getBoundingClientRect();
        return { tag: element.tagName, visible: box.bottom > 0 && box.top < innerHeight, outline: getComputedStyle(element).outlineStyle };
      }),
    { message: 'the preview never showed #pigeonhole-highlight' },
  );
  assert.equal(marked.outline, 'solid');
  assert.ok(marked.visible, `the element is scrolled into view: ${JSON.stringify(marked)}`);
  const selected = await frame.evaluate((selector) => document.querySelector(selector)?.id, check.Where.Element);
  assert.equal(selected, 'pigeonhole-highlight', 'the selector names the marked element');
  await screenshot(page, 'checks-jump-element');
});

uiTest('the preview document marks and scrolls to the element ?highlight= names', async ({ engine, page }) => {
  const sent = await sendMail(engine.smtpPort, troubledMail());
  const selector = 'html > body > table:nth-of-type(1) > tbody > tr:nth-of-type(1) > td:nth-of-type(1) > img:nth-of-type(1)';
  await page.goto(`${engine.url}/view/${sent.id}.html?embed=1&highlight=${encodeURIComponent(selector)}#pigeonhole-highlight`);
  const marked = await waitFor(() =>
    page.evaluate(() => {
      const element = document.getElementById('pigeonhole-highlight');
      if (!element) return null;
      const box = element.getBoundingClientRect();
      return { tag: element.tagName, scrolled: scrollY, visible: box.bottom > 0 && box.top < innerHeight, outline: getComputedStyle(element).outlineStyle };
    }),
  );
  assert.deepEqual({ tag: marked.tag, visible: marked.visible, outline: marked.outline }, { tag: 'IMG', visible: true, outline: 'solid' });
  assert.ok(marked.scrolled > 1000, `the page scrolled down to it (scrollY ${marked.scrolled})`);
});

uiTest('the list shows a badge on messages with check errors', async ({ engine, page }) => {
  const clean = await sendMail(engine.smtpPort, plainMail({ subject: 'A clean one' }));
  const sent = await sendMail(engine.smtpPort, troubledMail());
  const errors = (await report(engine, sent.id)).Summary.Errors;
  const cleanErrors = (await report(engine, clean.id)).Summary.Errors;
  assert.ok(errors > 0, 'the fixture trips error-level checks');
  assert.equal(cleanErrors, 0, 'the plain message has no check error');
  await openUI(page, engine);
  // Without opening anything: the badge comes from the reports of the rows in view.
  const badge = row(page, sent.id).getByTestId('check-badge');
  await expectText(badge, String(errors));
  assert.equal(await badge.getAttribute('title'), `${errors} check errors`);
  await page.waitForTimeout(500);
  assert.equal(await row(page, clean.id).getByTestId('check-badge').count(), 0, 'no badge without errors');
  await screenshot(page, 'list-check-badge');

  // Deleting the message takes its row and badge away.
  await api(engine, '/api/v1/messages', { method: 'DELETE', body: { IDs: [sent.id] } });
  await expectCount(row(page, sent.id), 0);
  await expectCount(page.getByTestId('check-badge'), 0);
});

uiTest(
  'the Checks tab in the dark theme',
  async ({ engine, page }) => {
    await openChecks(engine, page);
    const colours = await page.getByTestId('checks-panel').evaluate((panel) => ({
      page: getComputedStyle(document.body).backgroundColor,
      text: getComputedStyle(panel).color,
    }));
    const luminance = (css) => {
      const [r, g, b] = css.match(/[\d.]+/g).slice(0, 3).map((v) => Number(v) / 255);
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    assert.ok(luminance(colours.page) < 0.3 && luminance(colours.text) > 0.6, JSON.stringify(colours));
    await screenshot(page, 'tab-checks-dark');
  },
  { context: { colorScheme: 'dark' } },
);

uiTest('"Check links" adds the links\' status to the report', async ({ engine, page }) => {
  await openChecks(engine, page);
  const button = page.getByTestId('check-links');
  await button.click();
  // The link to 127.0.0.1:9 is refused (the link check keeps off local addresses):
  // links.broken appears once the check is done.
  await page.locator('[data-testid=check-item][data-check-id="links.broken"][data-severity=error]').first().waitFor({ timeout: 30_000 });
  await expectText(button, 'Check links again');
  assert.equal(await button.isDisabled(), false);
});

/** Whether an element is within its scrolling container's and the window's view. */
function inView(element) {
  const box = element.getBoundingClientRect();
  let scroller = element.parentElement;
  while (scroller && !/(auto|scroll)/.test(getComputedStyle(scroller).overflowY)) scroller = scroller.parentElement;
  const area = scroller ? scroller.getBoundingClientRect() : { top: 0, bottom: innerHeight };
  return box.bottom > area.top && box.top < area.bottom && box.top >= 0 && box.bottom <= innerHeight;
}
