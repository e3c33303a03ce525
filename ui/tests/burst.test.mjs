// burst.test.mjs - a flood of mail is coalesced on the event stream: past
// its rate the engine sends `stats` + `burst` instead of a `new` per message, and
// the UI reloads on `burst`, so the list and the counts are right after the flood,
// and a message after it is announced on its own again and goes on top.

import assert from 'node:assert/strict';

import nodemailer from 'nodemailer';

import { expectAttribute, expectText, openUI, plainMail, sendMail, uiTest, waitFor } from './harness.mjs';

const FLOOD = 300;

uiTest('a flood is coalesced into a burst, and the list is right after it', async ({ engine, page }) => {
  const frames = [];
  page.on('websocket', (ws) =>
    ws.on('framereceived', (frame) => {
      try {
        frames.push(JSON.parse(frame.payload));
      } catch {
        // a ping or a close
      }
    }),
  );
  await openUI(page, engine);
  const list = page.getByTestId('message-list');

  // A few at a normal pace: each is its own `new`.
  for (let i = 0; i < 3; i++) await sendMail(engine.smtpPort, plainMail({ subject: `before ${i}` }));
  await expectAttribute(list, 'data-total', '3');

  // The flood: one pooled connection pipelining as fast as the engine answers.
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: engine.smtpPort, secure: false, ignoreTLS: true, pool: true, maxConnections: 4, maxMessages: Infinity });
  try {
    await Promise.all(
      Array.from({ length: FLOOD }, (_, i) =>
        transport.sendMail(plainMail({ subject: `flood ${i}`, text: `message ${i} of the flood\n` })),
      ),
    );
  } finally {
    transport.close();
  }
  const total = String(FLOOD + 3);
  await expectAttribute(list, 'data-total', total, { timeout: 10_000, message: 'the list did not reach the total after the flood' });
  await expectText(page.locator('[data-testid="inbox-item"][data-inbox=""] .unread-count'), new RegExp(`^\\s*${total}\\s*$`));
  const news = frames.filter((f) => f.Type === 'new').length;
  const bursts = frames.filter((f) => f.Type === 'burst');
  assert.ok(bursts.length > 0, `no burst frame (frames: ${frames.length}, new: ${news})`);
  assert.ok(news < FLOOD, `${news} new frames for ${FLOOD + 3} messages: not coalesced`);
  // The list can catch up (from a `stats`) before the stream's last `burst`, which
  // comes at the end of its 500 ms window: wait for it, then require the exact sum.
  const announced = () =>
    frames.reduce((n, f) => n + (f.Type === 'new' ? 1 : f.Type === 'burst' ? f.Data.Count : 0), 0);
  await waitFor(() => announced() >= FLOOD + 3, { timeout: 5_000, message: 'not every message was a new or counted in a burst' });
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(announced(), FLOOD + 3, 'every message is a new or counted in a burst, once');
  const rows = page.getByTestId('message-row');
  await waitFor(async () => /flood \d+/.test((await rows.first().textContent()) ?? ''), { message: 'the top row is not from the flood' });

  // After it, a message is announced on its own and goes on top.
  await new Promise((r) => setTimeout(r, 1000));
  const after = await sendMail(engine.smtpPort, plainMail({ subject: 'after the flood' }));
  await expectAttribute(list, 'data-total', String(FLOOD + 4));
  await expectAttribute(rows.first(), 'data-id', after.id);
  await waitFor(() => frames.some((f) => f.Type === 'new' && f.Data.ID === after.id), { message: 'no new frame for the message after the flood' });
});
