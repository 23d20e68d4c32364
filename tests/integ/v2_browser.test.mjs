// v2_browser.test.mjs: the Socket.IO 2.x browser bundle (socket.io-client
// 2.5 dist/socket.io.js, what tutorials load from a CDN) in headless
// Chromium against the gateway with --allow-eio3: the seed-style page does
// io() then emit('my event', ...) and gets 'my response' and its ack, over
// the default transports (polling, then the upgrade), WebSocket only,
// XHR polling only (XHR2 binary payloads both ways) and JSONP polling;
// binary goes both ways.  The worker is written with the
// siogate Python module.  Skipped without Chromium or playwright-core.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../lib/harness.mjs';
import { fileBrowser, startProcess, PYTHON } from '../lib/browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const V2_DIST = path.join(here, '..', 'node_modules', 'socket.io-client-v2', 'dist');
const srcdir = process.env.TOP_SRCDIR || path.resolve(here, '..', '..');
const PAGE = path.join(srcdir, 'tests', 'integ', 'v2_page');
const WORKER = path.join(srcdir, 'tests', 'integ', 'v2_worker.py');

const { skip, openPage } = await fileBrowser();

test('the 2.x browser bundle: io() then emit("my event"), on every transport', skip ? { skip } : { timeout: 60000 }, async (t) => {
  const gw = await startGateway(['--allow-eio3', 'yes', '--static', PAGE, '--client-dir', V2_DIST]);
  let worker = null;
  try {
    worker = await startProcess(PYTHON, [WORKER, gw.bridge], 'v2_worker', /ready/);
    await gw.waitLog(/worker \d+ .*registered/);
    for (const [hash, want] of [['', 'websocket'], ['#ws', 'websocket'], ['#polling', 'polling'],
      ['#jsonp', 'polling']]) {
      await t.test(hash || 'default transports', async () => {
        const p = await openPage(`v2${hash}`);
        // What the page's polling requests look like: XHR2 clients send binary payloads.
        const posts = [];
        p.page.on('request', (r) => {
          if (r.method() === 'POST') posts.push(r.headers()['content-type'] || '');
        });
        try {
          // JSONP polls hold a script loading: the load event may wait for it.
          await p.page.goto(`${gw.url}/${hash}`, { waitUntil: 'domcontentloaded' });
          await p.page.waitForFunction(() => window.got.length >= 2);
          const got = await p.page.evaluate(() => window.got);
          const resp = got.find((g) => g[0] === 'my response');
          // A newline and a backslash-n: JSONP bodies escape both.
          assert.deepEqual(resp[1], { data: 'I\'m connected! \u00e9 \u{1F600}', lines: 'a\nb\\nc' });
          assert.deepEqual(got.find((g) => g[0] === 'ack')[1], 'got it');
          if (want === 'websocket' && !hash) {
            await p.page.waitForFunction(() => window.transport() === 'websocket');
          }
          assert.equal(await p.page.evaluate(() => window.transport()), want);
          // The JSONP transport's callback table exists only when it is the one used.
          assert.equal(await p.page.evaluate(() => Array.isArray(window.___eio)), hash === '#jsonp');
          await p.page.evaluate(() => window.sendBin());
          await p.page.waitForFunction(() => window.got.some((g) => g[0] === 'bin'));
          const bin = (await p.page.evaluate(() => window.got)).find((g) => g[0] === 'bin');
          assert.deepEqual(bin[1], [1, 2, 3, 255]);
          if (hash === '#polling') {
            assert.ok(posts.some((ct) => ct.startsWith('application/octet-stream')),
              `an XHR2 binary payload was posted (${posts.join(', ')})`);
          }
          assert.deepEqual(p.errors, []);
        } finally {
          await p.close();
        }
      });
    }
  } finally {
    if (worker) await worker.stop();
    await gw.stop();
  }
});
