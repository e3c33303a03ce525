// xss-corpus.mjs - the XSS corpus (data/xss-payloads.json) made into mail, for every
// test that shows it: the browser's (html-safety.test.mjs) and the desktop window's
// (tests/desktop.rs, which runs this file as a script). Each payload goes into the
// HTML body, text body, subject, display names, attachment file names and header
// values of one of `MESSAGES` messages; its `{js}` sets `window.__pwned` and asks the
// canary server for /js/<n>, its `{url}` is the canary's /leak/<n>.
//
// As a script:
//   node tests/xss-corpus.mjs send <smtp port> <canary origin>
//     sends the messages over SMTP; prints one JSON line per message: {"id", "batch"}
//   node tests/xss-corpus.mjs control <canary origin>
//     prints the HTML body of the first message, for a control page without any
//     protection (it must trip the canary, or the canary is dead)

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CORPUS = JSON.parse(readFileSync(new URL('./data/xss-payloads.json', import.meta.url), 'utf8')).payloads;
/** Messages the corpus is spread over: each payload in every field of one of them. */
export const MESSAGES = 10;
/**
 * Closes whatever a payload left open (raw text, foreign content, comments, tables,
 * forms), so that the next payload of the same HTML body is parsed as markup again.
 * `<plaintext>` cannot be closed: such payloads go last in their message.
 */
export const CLOSER = '--></script></style></textarea></title></xmp></noscript></noembed></noframes></template></option></select></iframe></object></svg></math></table></form></a>';

/**
 * Payload `n` with its placeholders filled: `{js}` sets `window.__pwned` and asks the
 * canary for /js/n (no quotes or spaces: it works in any attribute or URL), `{url}`
 * is the canary's /leak/n.
 */
export function payload(template, n, canary) {
  const port = new URL(canary.origin).port;
  const js = `__pwned=${n},fetch(\`${canary.url(`/js/${n}`)}\`)`;
  return template.replaceAll('{js}', js).replaceAll('{url}', canary.url(`/leak/${n}`)).replaceAll('{port}', port);
}

/** The corpus dealt round-robin into `MESSAGES` nodemailer messages. */
export function corpusMessages(canary) {
  const batches = Array.from({ length: MESSAGES }, () => []);
  CORPUS.forEach((template, n) => batches[n % MESSAGES].push(payload(template, n, canary)));
  return batches.map((batch, m) => {
    batch.sort((a, b) => /<plaintext/i.test(a) - /<plaintext/i.test(b));
    const options = {
      from: { name: batch[0], address: 'attacker@example.test' },
      to: batch.map((p, i) => ({ name: p, address: `victim${i}@example.test` })),
      subject: `XSS ${m}: ${batch.join(' ')}`,
      text: batch.join('\n'),
      html: `<p>corpus ${m}</p>` + batch.map((p) => p + CLOSER).join('\n'),
      headers: Object.fromEntries(batch.map((p, i) => [`X-Payload-${i}`, p])),
      attachments: batch.map((p) => ({ filename: p, content: 'x', contentType: 'text/plain' })),
      envelope: { from: 'attacker@example.test', to: ['victim@example.test'] },
    };
    return { options, batch };
  });
}

/** A canary at `origin` as `payload` wants it. */
export function canaryAt(origin) {
  return { origin, url: (path) => origin + path };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command, ...args] = process.argv.slice(2);
  if (command === 'send' && args.length === 2) {
    // The harness only when sending: it brings nodemailer and the SMTP client setup.
    const { sendMail } = await import('./harness.mjs');
    for (const { options, batch } of corpusMessages(canaryAt(args[1]))) {
      const { id } = await sendMail(Number(args[0]), options);
      process.stdout.write(JSON.stringify({ id, batch }) + '\n');
    }
  } else if (command === 'control' && args.length === 1) {
    process.stdout.write(corpusMessages(canaryAt(args[0]))[0].options.html);
  } else {
    process.stderr.write('usage: xss-corpus.mjs send <smtp port> <canary origin> | control <canary origin>\n');
    process.exit(2);
  }
}
