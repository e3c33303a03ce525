// "Render as" and the dark modes: the preview as a client family shows a message
// (the engine's ?view= and ?dark=), checked by the pixels the frame paints; the list
// of what the view removed; and the event card of a calendar invitation.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';

import { REPO_DIR, expectCount, expectText, htmlMail, openMessage, openTab, openUI, previewFrame, screenshot, sendMail, uiTest, waitFor } from './harness.mjs';

/** [r, g, b] at (x, y) of a PNG (8-bit RGB or RGBA, not interlaced, as Chromium writes them). */
function pixelAt(png, x, y) {
  let offset = 8;
  let width = 0;
  let channels = 4;
  const data = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const body = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      channels = body[9] === 6 ? 4 : 3;
    } else if (type === 'IDAT') data.push(body);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  let previous = Buffer.alloc(stride);
  let line;
  for (let row = 0; row <= y; row++) {
    const start = row * (stride + 1);
    const filter = raw[start];
    line = Buffer.from(raw.subarray(start + 1, start + 1 + stride));
    for (let i = 0; i < stride; i++) {
      const left = i >= channels ? line[i - channels] : 0;
      const up = previous[i];
      const upLeft = i >= channels ? previous[i - channels] : 0;
      const predictor = [0, left, up, (left + up) >> 1, paeth(left, up, upLeft)][filter];
      line[i] = (line[i] + predictor) & 0xff;
    }
    previous = line;
  }
  return [...line.subarray(x * channels, x * channels + 3)];
}

function paeth(a, b, c) {
  const p = a + b - c;
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** The colour of the frame's pixel at the centre of the element `selector` in it. */
async function colourIn(page, selector) {
  const frame = await previewFrame(page);
  const box = await frame.locator(selector).boundingBox();
  const frameBox = await page.getByTestId('html-frame').boundingBox();
  const png = await page.getByTestId('html-frame').screenshot();
  return pixelAt(png, Math.round(box.x - frameBox.x + 4), Math.round(box.y - frameBox.y + box.height / 2));
}

const near = (actual, expected, what) =>
  assert.ok(actual.every((c, i) => Math.abs(c - expected[i]) <= 3), `${what}: ${actual} is not ${expected}`);

const HTML = `<html><body style="margin:0">
  <div id="box" style="background-color:#ffffff;color:#000000;border-radius:12px;height:60px">Light box</div>
  <div id="dark" style="background-color:#000000;height:60px">&nbsp;</div>
  <div style="max-width:600px;border-radius:4px">more</div></body></html>`;

uiTest('render-as and dark modes repaint the preview and list what was removed', async ({ engine, page }) => {
  const msg = await sendMail(engine.smtpPort, htmlMail(HTML, { subject: 'Styled for clients' }));
  await openUI(page, engine);
  await openMessage(page, msg.id);
  await openTab(page, 'html');
  await (await previewFrame(page)).locator('#box').waitFor();
  near(await colourIn(page, '#box'), [255, 255, 255], 'as sent, the box is white');

  // Outlook drops border-radius: the list says so, each item linked to its feature.
  await page.getByTestId('render-as').selectOption('outlook');
  const items = page.getByTestId('view-removed-item');
  await expectCount(items, 1, { message: 'one kind of removal (border-radius) for Outlook' });
  await expectText(items.first(), /border-radius ×2/);
  assert.equal(
    await items.first().locator('a').getAttribute('href'),
    'https://www.caniemail.com/features/css-border-radius/',
  );
  await expectText(page.getByTestId('view-notes'), /approximation/i);

  // Partial dark (Outlook.com): the white box turns #121212, the black one stays.
  await page.getByTestId('render-as').selectOption('outlook-com');
  await page.getByTestId('dark-mode').selectOption('partial');
  await (await previewFrame(page)).locator('#box').waitFor();
  await waitFor(async () => (await colourIn(page, '#box'))[0] < 40, { message: 'partial dark did not darken the box' });
  near(await colourIn(page, '#box'), [0x12, 0x12, 0x12], 'partial: white background');
  near(await colourIn(page, '#dark'), [0, 0, 0], 'partial: a black background stays');
  await screenshot(page, 'render-views-partial');

  // Full inversion: the black box becomes light.
  await page.getByTestId('dark-mode').selectOption('full');
  await (await previewFrame(page)).locator('#dark').waitFor();
  await waitFor(async () => (await colourIn(page, '#dark'))[0] > 200, { message: 'full dark did not invert the black box' });
  near(await colourIn(page, '#dark'), [0xed, 0xed, 0xed], 'full: black background');

  // The toggle gives the view's own dark mode: Apple Mail honours prefers-color-scheme.
  await page.getByTestId('dark-mode').selectOption('none');
  await page.getByTestId('render-as').selectOption('apple-mail');
  await expectText(page.getByTestId('view-notes'), /Nothing this message uses is dropped/);
  await page.getByTestId('dark-preview').locator('input').check();
  await waitFor(async () => (await page.getByTestId('dark-mode').inputValue()) === 'prefers', {
    message: 'the dark toggle did not pick Apple Mail\'s prefers',
  });
});

uiTest('a calendar invitation shows as an event card, its text escaped', async ({ engine, page }) => {
  const raw = readFileSync(join(REPO_DIR, 'crates/pigeonhole/src/mail/testdata/google-calendar-invite.eml'));
  const msg = await sendMail(engine.smtpPort, { raw, envelope: { from: 'alice@example.com', to: ['bob@example.com'] } });
  await openUI(page, engine, {});
  await openMessage(page, msg.id);
  await openTab(page, 'html');
  const card = page.getByTestId('calendar-card');
  await card.waitFor();
  await expectText(card.getByTestId('calendar-title'), /^Quarterly planning$/);
  await expectText(card.getByTestId('calendar-kind'), /Invitation/);
  await expectText(card.getByTestId('calendar-organiser-time'), /2025-03-14 10:00[^]*2025-03-14 11:00[^]*\(Europe\/Berlin\)/);
  // The browser runs in UTC here (TZ from the harness, else the machine's): 09:00 UTC.
  await expectText(card.getByTestId('calendar-viewer-time'), /Mar 14, 2025/);
  await expectText(card.getByTestId('calendar-recurrence'), /Weekly on Monday and Wednesday, 10 times/);
  await expectText(card.getByTestId('calendar-location'), /Room 4\.01, Main St 1, Berlin/);
  const attendees = card.getByTestId('calendar-attendee');
  await expectCount(attendees, 3);
  await expectText(attendees.nth(1), /bob@example\.com\s+— not answered/);
  // The hostile attendee name is text, not markup.
  await expectText(attendees.nth(2), /Carol <script>alert\(1\)<\/script>/);
  assert.equal(await card.locator('script').count(), 0);
  await screenshot(page, 'calendar-card');
});
