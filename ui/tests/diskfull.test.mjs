// diskfull.test.mjs - the UI says when the disk holding the data folder is full:
// the engine's data folder on a 20 MB tmpfs, filled by a file to ~3 MB
// free, mail over real SMTP until the engine answers 452 4.3.1; the banner must
// appear, name the folder and say what to do, and go away by itself once the file
// is removed (before any more mail), after which mail is taken again.
//
// Mounting a tmpfs needs root. Without it the test is skipped, loudly.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { after } from 'node:test';

import { api, expectText, openUI, screenshot, sendMail, plainMail, uiTest, waitFor } from './harness.mjs';

const NAME = 'a full disk shows a banner saying what to do, gone once space is freed';

function mountTmpfs() {
  if (process.getuid?.() !== 0) return { skip: 'not root: cannot mount a tmpfs to fill' };
  const mnt = mkdtempSync(join(tmpdir(), 'pigeonhole-diskfull-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mnt], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    rmSync(mnt, { recursive: true, force: true });
    return { skip: `cannot mount a tmpfs (${(mounted.stderr || mounted.error?.message || 'mount failed').trim()})` };
  }
  after(() => {
    spawnSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });
  return { mnt, dataDir: join(mnt, 'data') };
}

const disk = mountTmpfs();

if (disk.skip) {
  process.stderr.write(`\n!!!!! SKIPPED: ${NAME}: ${disk.skip}. Run the browser tests as root to check the disk-full banner.\n\n`);
  test(NAME, { skip: disk.skip }, () => {});
} else {
  uiTest(
    NAME,
    async ({ engine, page }) => {
      await openUI(page, engine);
      const banner = page.getByTestId('disk-full');
      assert.equal(await banner.count(), 0, 'no banner while there is room');
      assert.deepEqual((await api(engine, '/api/v1/storage')).json, { DataDir: disk.dataDir, DiskFull: false });

      // Fill all but ~3 MB, then deliver barely compressible ~170 KB messages until refused.
      const filler = join(disk.mnt, 'filler');
      const { bavail, bsize } = statfsSync(disk.mnt);
      writeFileSync(filler, randomBytes(Math.max(0, bavail * bsize - 3 * 1024 * 1024)));
      let refusal = null;
      let accepted = 0;
      for (let i = 0; i < 100 && !refusal; i++) {
        const text = Array.from({ length: 1500 }, () => randomBytes(57).toString('hex')).join('\n');
        try {
          await sendMail(engine.smtpPort, plainMail({ subject: `filling ${i}`, text }));
          accepted++;
        } catch (e) {
          refusal = e;
        }
      }
      assert.ok(refusal, `the disk never filled (${accepted} messages taken)`);
      assert.equal(refusal.responseCode, 452, `refused with ${refusal.response}`);
      assert.match(refusal.response, /4\.3\.1/);

      await expectText(banner, /Disk full: new mail is being refused \(SMTP 452\)/, {
        message: 'the disk-full banner did not appear',
      });
      const text = await banner.textContent();
      assert.ok(text.includes(disk.dataDir), `the banner names the data folder: ${text}`);
      assert.match(text, /Free some space there or delete messages/);
      assert.equal(await banner.getAttribute('role'), 'alert');
      await screenshot(page, 'disk-full-banner');

      // Space returns: the banner goes by itself (the engine looks every second).
      unlinkSync(filler);
      await waitFor(async () => (await banner.count()) === 0, {
        timeout: 10_000,
        message: 'the disk-full banner stayed after space was freed',
      });
      assert.equal((await api(engine, '/api/v1/storage')).json.DiskFull, false);
      const after = await sendMail(engine.smtpPort, plainMail({ subject: 'space is back' }));
      assert.match(after.response, /^250 /);
    },
    { engine: { dataDir: disk.dataDir } },
  );
}
