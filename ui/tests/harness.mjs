// harness.mjs - what every browser test (and the list benchmark) shares: the engine
// binary, a running `pigeonhole serve` on free ports, Chromium through playwright-core,
// mail over real SMTP with nodemailer, the fixtures, screenshots, a request recorder,
// and small polling assertions (playwright-core has no `expect`).
//
// Tests use `uiTest(name, async ({ engine, page, ... }) => …)`: a fresh engine (own
// ports, own temp data folder) and a fresh browser context per test; on failure the
// engine's stdout/stderr, the page's console and a screenshot are printed/saved.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import test, { after } from 'node:test';

import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import { chromium } from 'playwright-core';

// ---------------------------------------------------------------------------- paths

const HERE = dirname(fileURLToPath(import.meta.url));
export const UI_DIR = resolve(HERE, '..');
export const REPO_DIR = resolve(UI_DIR, '..');
/** Repo-root `artifacts/` (gitignored). */
export const ARTIFACTS_DIR = join(REPO_DIR, 'artifacts');
export const SCREENSHOT_DIR = join(ARTIFACTS_DIR, 'ui-screenshots');

/** How long one UI expectation may take (ms). The machine is small and shared. */
export const TIMEOUT = Number(process.env.UI_TEST_TIMEOUT_MS ?? 5000);

// ---------------------------------------------------------------------------- engine

let binaryChecked = null;

/**
 * The engine binary: `$PIGEONHOLE_BIN`, else `../target/debug/pigeonhole` relative to
 * ui/. When that is missing, `cargo build -p pigeonhole` runs once (its progress on
 * stderr; the build script also builds ui/dist, which the binary embeds).
 */
export function engineBinary() {
  if (binaryChecked) return binaryChecked;
  if (process.env.PIGEONHOLE_BIN) {
    const bin = resolve(process.env.PIGEONHOLE_BIN);
    if (!existsSync(bin)) throw new Error(`PIGEONHOLE_BIN=${bin} does not exist`);
    return (binaryChecked = bin);
  }
  const bin = join(REPO_DIR, 'target', 'debug', 'pigeonhole');
  if (!existsSync(bin)) {
    process.stderr.write(`[harness] ${bin} is missing: cargo build -p pigeonhole (in ${REPO_DIR})\n`);
    const cargo = spawnSync('cargo', ['build', '-p', 'pigeonhole'], {
      cwd: REPO_DIR,
      // Progress goes to stderr: under `node --test`, stdout belongs to the reporter.
      stdio: ['ignore', 2, 2],
    });
    if (cargo.error) throw new Error(`cannot run cargo: ${cargo.error.message}`);
    if (cargo.status !== 0) throw new Error(`cargo build -p pigeonhole failed (exit ${cargo.status})`);
    if (!existsSync(bin)) throw new Error(`cargo build succeeded but ${bin} is still missing`);
  }
  return (binaryChecked = bin);
}

/**
 * `cargo build [--release] -p pigeonhole` (progress on stderr), then the binary's
 * path. For the benchmark, which wants an optimized engine with the current UI.
 */
export function buildEngine({ release = false } = {}) {
  const args = ['build', ...(release ? ['--release'] : []), '-p', 'pigeonhole'];
  process.stderr.write(`[harness] cargo ${args.join(' ')} (in ${REPO_DIR})\n`);
  const cargo = spawnSync('cargo', args, { cwd: REPO_DIR, stdio: ['ignore', 2, 2] });
  if (cargo.error) throw new Error(`cannot run cargo: ${cargo.error.message}`);
  if (cargo.status !== 0) throw new Error(`cargo ${args.join(' ')} failed (exit ${cargo.status})`);
  return join(REPO_DIR, 'target', release ? 'release' : 'debug', 'pigeonhole');
}

const running = new Set();
const ownDirs = new Set();
process.on('exit', () => {
  // A test that crashed past its cleanup (or Ctrl-C in the bench) must not leave
  // engines or their temp data folders behind.
  for (const child of running) child.kill('SIGKILL');
  for (const dir of ownDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Start `pigeonhole serve` on free ports (or `smtp`/`http` addresses given) with a
 * fresh temp data folder (or `dataDir`), from `bin` (default `engineBinary()`).
 * Resolves once both ports are printed.
 * Returns `{ smtpPort, httpPort, url, dataDir, output(), stop() }`.
 */
export async function startEngine({ smtp = '127.0.0.1:0', http: httpAddr = '127.0.0.1:0', dataDir, args = [], env = {}, startTimeout = 30_000, bin = engineBinary() } = {}) {
  const ownDir = !dataDir;
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'pigeonhole-ui-')));
  if (ownDir) ownDirs.add(dir);
  const child = spawn(bin, ['serve', '--smtp', smtp, '--http', httpAddr, '--data', dir, ...args], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const lines = [];
  let stdout = '';
  const exited = new Promise((res) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      res({ code, signal });
    });
  });
  const record = (stream, name) => {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      if (name === 'stdout') stdout += chunk;
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop();
      for (const l of parts) lines.push(`[${name}] ${l}`);
    });
    stream.on('end', () => partial && lines.push(`[${name}] ${partial}`));
  };
  record(child.stdout, 'stdout');
  record(child.stderr, 'stderr');
  const output = () => lines.join('\n');

  const ports = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`engine did not print its ports within ${startTimeout} ms\n${output()}`)), startTimeout);
    const check = () => {
      const s = /smtp listening on [^\s]*:(\d+)/.exec(stdout);
      const h = /http listening on [^\s]*:(\d+)/.exec(stdout);
      if (s && h) {
        clearTimeout(timer);
        res({ smtpPort: Number(s[1]), httpPort: Number(h[1]) });
      }
    };
    child.stdout.on('data', check);
    child.once('error', (e) => rej(new Error(`cannot start ${bin}: ${e.message}`)));
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new Error(`engine exited before listening (code ${code}, signal ${signal})\n${output()}`));
    });
  }).catch(async (e) => {
    child.kill('SIGKILL');
    if (ownDir) {
      await rm(dir, { recursive: true, force: true });
      ownDirs.delete(dir);
    }
    throw e;
  });

  let exitResult = null;
  return {
    ...ports,
    url: `http://127.0.0.1:${ports.httpPort}`,
    smtpAddress: `127.0.0.1:${ports.smtpPort}`,
    dataDir: dir,
    child,
    output,
    exited,
    /**
     * SIGTERM, wait for exit (SIGKILL after `grace` ms); then remove an own temp data
     * folder unless `keepData`. Safe to call again (a later call without `keepData`
     * removes the folder kept by an earlier one).
     */
    async stop({ keepData = false, grace = 15_000 } = {}) {
      exitResult ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), grace);
        const result = await exited;
        clearTimeout(killer);
        return result;
      })();
      const result = await exitResult;
      if (ownDir && !keepData) {
        await rm(dir, { recursive: true, force: true });
        ownDirs.delete(dir);
      }
      return result;
    },
  };
}

/** JSON (or bytes) from the engine's HTTP API: `{ status, headers, json, text, bytes }`. */
export async function api(engine, path, { method = 'GET', body } = {}) {
  const res = await fetch(engine.url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  const text = bytes.toString('utf8');
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text, bytes };
}

// ---------------------------------------------------------------------------- browser

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

/** Debian's Chromium through playwright-core (no downloaded browser). */
export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** A fresh context (1400x900) with the harness's default timeout. */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true, ...options });
  context.setDefaultTimeout(TIMEOUT);
  return context;
}

let sharedBrowser = null;
let closeRegistered = false;

/** The console line a page's own CSP violation is reported as (see `uiTest`). */
export const CSP_VIOLATION = '[csp-violation]';

/**
 * Report every Content-Security-Policy violation of the context's pages as a console
 * error starting with `CSP_VIOLATION`. It runs in every document the page's scripts
 * run in: the UI's own page, where a violation means its policy broke something
 * (or something it should refuse was tried). The sandboxed mail previews run no
 * script, so what their own stricter policy blocks (remote images) is not reported.
 */
export function reportCspViolations(context) {
  return context.addInitScript((prefix) => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const where = e.sourceFile ? ` at ${e.sourceFile}:${e.lineNumber}` : '';
      console.error(`${prefix} ${e.effectiveDirective} refused ${e.blockedURI || '(inline)'} in ${location.href}${where}`);
    });
  }, CSP_VIOLATION);
}

/**
 * One test: a fresh engine, a fresh browser context and page (the browser is shared
 * by the tests of one file). `fn` gets `{ t, engine, browser, context, page, pageLog,
 * dialogs, cspViolations }`. On failure: engine output, page console and a screenshot.
 * Any CSP violation in the page (the UI's policy refusing something the UI does)
 * fails the test, unless `allowCspViolations` (for a test that provokes them and
 * checks `cspViolations` itself).
 * Options: `timeout` (whole test, ms), `context` (extra context options), `engine`
 * (startEngine options), `allowCspViolations`.
 */
export function uiTest(name, fn, { timeout = 90_000, context: contextOptions = {}, engine: engineOptions = {}, allowCspViolations = false, ...rest } = {}) {
  if (!closeRegistered) {
    closeRegistered = true;
    after(async () => {
      if (sharedBrowser) await (await sharedBrowser).close();
    });
  }
  test(name, { timeout, ...rest }, async (t) => {
    await rm(screenshotPath(`FAILED-${name}`), { force: true });
    sharedBrowser ??= launchBrowser();
    const browser = await sharedBrowser;
    const engine = await startEngine(engineOptions);
    let context;
    let page;
    const pageLog = [];
    const dialogs = [];
    const cspViolations = [];
    try {
      context = await newContext(browser, contextOptions);
      await reportCspViolations(context);
      page = await context.newPage();
      page.on('console', (m) => {
        pageLog.push(`[console.${m.type()}] ${m.text()}`);
        if (m.text().startsWith(CSP_VIOLATION)) cspViolations.push(m.text());
      });
      page.on('pageerror', (e) => pageLog.push(`[pageerror] ${e.message}`));
      page.on('requestfailed', (r) => pageLog.push(`[requestfailed] ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
      page.on('dialog', async (d) => {
        dialogs.push({ type: d.type(), message: d.message() });
        await d.dismiss().catch(() => {});
      });
      await fn({ t, engine, browser, context, page, pageLog, dialogs, cspViolations });
      if (!allowCspViolations && cspViolations.length > 0) {
        throw new Error(`the UI's Content-Security-Policy refused ${cspViolations.length} things:\n${cspViolations.join('\n')}`);
      }
    } catch (err) {
      const shot = page ? await screenshot(page, `FAILED-${name}`).catch(() => null) : null;
      const tail = (s, n) => s.split('\n').slice(-n).join('\n');
      process.stderr.write(
        [
          ``,
          `----- FAILED: ${name}`,
          `----- engine (${engine.url}, smtp ${engine.smtpAddress}) output, last 80 lines:`,
          tail(engine.output(), 80),
          `----- page console / errors, last 40:`,
          pageLog.slice(-40).join('\n') || '(none)',
          shot ? `----- screenshot: ${shot}` : `----- (no screenshot)`,
          ``,
        ].join('\n'),
      );
      throw err;
    } finally {
      if (context) await context.close().catch(() => {});
      await engine.stop();
    }
  });
}

/** Go to the UI and wait until it shows and its WebSocket is up (`data-connected`). */
export async function openUI(page, engine, { connected = true, path = '/' } = {}) {
  await page.goto(engine.url + path);
  await page.getByTestId('app').waitFor();
  if (connected) {
    await waitFor(async () => (await page.getByTestId('app').getAttribute('data-connected')) === 'true', {
      message: 'testid=app never got data-connected="true" (the /api/events WebSocket)',
    });
  }
}

function screenshotPath(name) {
  return join(SCREENSHOT_DIR, `${name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 120)}.png`);
}

/** Save a PNG under artifacts/ui-screenshots/; returns its path. */
export async function screenshot(page, name) {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const file = screenshotPath(name);
  await page.screenshot({ path: file });
  return file;
}

// ---------------------------------------------------------------------------- waiting

/**
 * Poll `check` (sync or async) until it returns a truthy value, which is returned.
 * Throws `message` (with the last value or error) after `timeout` ms.
 */
export async function waitFor(check, { timeout = TIMEOUT, interval = 50, message = 'condition not met' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const shown = last instanceof Error ? `error: ${last.message.split('\n')[0]}` : `last value: ${JSON.stringify(last)}`;
      throw new Error(`${message} (after ${timeout} ms; ${shown})`);
    }
    await sleep(interval);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Wait until a locator's text matches `pattern` (RegExp or substring); returns the text. */
export async function expectText(locator, pattern, { timeout, message } = {}) {
  let text;
  const ok = (s) => (pattern instanceof RegExp ? pattern.test(s) : s.includes(pattern));
  await waitFor(
    async () => {
      text = (await locator.first().textContent({ timeout: 250 })) ?? '';
      return ok(text);
    },
    { timeout, message: message ?? `text of ${locator} never matched ${pattern}` },
  );
  return text;
}

/** Wait until `locator` matches exactly `n` elements. */
export async function expectCount(locator, n, { timeout, message } = {}) {
  let count;
  await waitFor(async () => (count = await locator.count()) === n, {
    timeout,
    message: message ?? `${locator}: expected ${n} elements, saw ${count}`,
  });
}

/** Wait until `locator`'s attribute `name` equals `value`. */
export async function expectAttribute(locator, name, value, { timeout, message } = {}) {
  let seen;
  await waitFor(async () => (seen = await locator.getAttribute(name, { timeout: 250 })) === value, {
    timeout,
    message: message ?? `${locator}: expected ${name}="${value}", saw ${JSON.stringify(seen)}`,
  });
}

/** The `data-id`s of the message rows present, top to bottom. */
export function rowIds(page) {
  return page.getByTestId('message-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')));
}

/** The row of one message. */
export function row(page, id) {
  return page.locator(`[data-testid="message-row"][data-id="${id}"]`);
}

/** Click a message's row and wait until the message pane shows it. */
export async function openMessage(page, id) {
  await row(page, id).click();
  await expectAttribute(page.getByTestId('message-view'), 'data-id', id, {
    message: `clicking row ${id}: testid=message-view never got data-id="${id}"`,
  });
}

/** Click a tab (`html`, `text`, …) and wait until it is selected; returns the tab panel. */
export async function openTab(page, name) {
  const tab = page.getByTestId(`tab-${name}`);
  await tab.click();
  await expectAttribute(tab, 'aria-selected', 'true');
  const panel = page.getByTestId('tab-panel');
  await panel.waitFor();
  return panel;
}

/** The Frame of the HTML preview iframe (waits for the iframe). */
export async function previewFrame(page) {
  const handle = await page.getByTestId('html-frame').elementHandle();
  const frame = await handle.contentFrame();
  if (!frame) throw new Error('testid=html-frame has no content frame');
  return frame;
}

// ---------------------------------------------------------------------------- mail

/** The name our client gives in EHLO (shown in the Envelope tab). */
export const HELO = 'e2e-client.pigeonhole.test';

/**
 * Send one message over real SMTP (nodemailer, no TLS). `options` are nodemailer
 * message options; the message is built here first so its exact bytes are known,
 * then sent as is with its envelope (`options.envelope`, else From + To/Cc/Bcc; the
 * Bcc header is not in the bytes). Resolves `{ id, raw, envelope, response }`, `id`
 * from the server's "queued as" reply.
 */
export async function sendMail(smtpPort, options) {
  const node = new MailComposer(options).compile();
  const envelope = options.envelope ?? node.getEnvelope();
  // SMTP carries CRLF line ends: nodemailer turns a body's bare LF into CRLF on the
  // wire, so do it here and `raw` is exactly the bytes that were sent.
  const built = await node.build();
  const raw = Buffer.from(built.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: smtpPort,
    secure: false,
    ignoreTLS: true,
    name: HELO,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 30_000,
  });
  try {
    const info = await transport.sendMail({ envelope, raw });
    const id = /queued as <?([^\s>]+)>?/.exec(info.response)?.[1];
    if (!id) throw new Error(`no "queued as" ID in the server's reply: ${info.response}`);
    return { id, raw, envelope, response: info.response };
  } finally {
    transport.close();
  }
}

/** A plain text message; `overrides` are nodemailer options. */
export function plainMail(overrides = {}) {
  return {
    from: 'Alice Example <alice@example.test>',
    to: 'Bob Example <bob@example.test>',
    subject: 'Plain hello',
    text: 'Hello Bob,\nthis is a plain text message.\n',
    ...overrides,
  };
}

/** An HTML message (with a text alternative); `overrides` are nodemailer options. */
export function htmlMail(html, overrides = {}) {
  return plainMail({ subject: 'HTML hello', html, text: 'text alternative', ...overrides });
}

// A PNG made here (no binary fixture files): width x height, one colour.
export function makePng(width, height, [r, g, b] = [220, 40, 40]) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf) => {
    let c = 0xffffffff;
    for (const byte of buf) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rowBytes = Buffer.alloc(1 + width * 3);
  for (let x = 0; x < width; x++) rowBytes.set([r, g, b], 1 + x * 3);
  const pixels = Buffer.concat(Array.from({ length: height }, () => rowBytes));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(pixels)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A small, valid one-page PDF. */
export function makePdf(text = 'Invoice 42') {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    null, // the content stream, below
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  const content = `BT /F1 18 Tf 24 72 Td (${text}) Tj ET`;
  objects[3] = `<< /Length ${content.length} >>\nstream\n${content}\nendstream`;
  let pdf = '%PDF-1.4\n';
  const offsets = [];
  objects.forEach((o, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) pdf += `${String(off).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

/**
 * The multipart fixture: HTML + text alternative, an inline `cid:` PNG, a PDF
 * attachment, an RFC 2047-encoded subject, a Cc and a Bcc-only recipient, and an
 * envelope sender that differs from From. Returns `{ options, expect }`: nodemailer
 * options for `sendMail`, and what the UI should show.
 */
export function multipartMail() {
  const subject = 'Grüße aus Köln — Rechnung Nr. 42 ✓';
  const png = makePng(48, 24);
  const pdf = makePdf();
  const cid = 'logo@fixture.pigeonhole.test';
  const expect = {
    subject,
    htmlHeading: 'Hello from the HTML part',
    text: 'This is the plain text part of the multipart fixture.',
    cid,
    png,
    pdf,
    pdfName: 'invoice-42.pdf',
    pngName: 'logo.png',
    mailFrom: 'bounces+42@sender.example',
    rcptTo: ['bob@example.test', 'carol@example.test', 'hidden-bcc@example.test'],
    bccOnly: 'hidden-bcc@example.test',
    helo: HELO,
  };
  const options = {
    from: 'Zoë Sender <zoe@sender.example>',
    to: 'Bob Example <bob@example.test>',
    cc: 'carol@example.test',
    bcc: expect.bccOnly,
    subject,
    envelope: { from: expect.mailFrom, to: expect.rcptTo },
    text: `Hello Bob,\n\n${expect.text}\nYour verification code is 482913.\n`,
    html:
      `<!doctype html><html><body>` +
      `<h1 id="fixture-heading">${expect.htmlHeading}</h1>` +
      `<p>Multipart fixture with an inline image: <img id="inline-logo" alt="logo" src="cid:${cid}" width="48" height="24"></p>` +
      `<p><a href="https://example.test/verify?code=482913">Verify your address</a></p>` +
      `</body></html>`,
    attachments: [
      { filename: expect.pngName, content: png, contentType: 'image/png', cid },
      { filename: expect.pdfName, content: pdf, contentType: 'application/pdf' },
    ],
  };
  return { options, expect };
}

// ---------------------------------------------------------------------------- recorder

/**
 * A local HTTP server that records every request and answers a small PNG: the
 * "remote" host of remote-content tests. `{ origin, url(path), requests, close() }`.
 */
export async function startRecorder() {
  const requests = [];
  const png = makePng(2, 2, [0, 120, 255]);
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method, url: req.url, time: Date.now(), headers: req.headers });
    res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store', 'content-length': png.length });
    res.end(png);
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    requests,
    url: (path) => origin + path,
    close: () =>
      new Promise((res) => {
        server.closeAllConnections?.();
        server.close(() => res());
      }),
  };
}
