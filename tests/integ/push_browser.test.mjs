// push_browser.test.mjs: the server-push example (examples/push/) in a real browser.
//
// Flask-SocketIO's /dcenter demo: a page that only listens on the namespace
// "/dcenter" shows what other processes push, with no request of its own.
// The real gateway serves the page (--static examples/push) and
// socket.io.js (--client-dir); dcenter_worker.py keeps the namespace open;
// headless Chromium opens the page; push.py (the Python Emitter) and
// push_emitter (C, a write-only SDK peer) push messages, and the page must
// show them.  Skipped when Chromium or playwright-core is missing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, deadline } from '../lib/harness.mjs';
import {
  browserSkip, launchBrowser, newPage, startProcess, example, exampleSrc, CLIENT_DIR, PYTHON,
} from '../lib/browser.mjs';

const skip = await browserSkip();
const opt = skip ? { skip } : {};
let browser = null;
let gw = null;
let worker = null;
let tab = null;

before(async () => {
  if (skip) return;
  browser = await launchBrowser();
  gw = await startGateway(['--static', exampleSrc('push'), '--client-dir', CLIENT_DIR]);
  worker = await startProcess(PYTHON, [exampleSrc('push/dcenter_worker.py'), '-e', gw.bridge],
    'dcenter_worker.py', /registered/);
  await gw.waitLog(/worker \d+ \(dcenter\) registered/);
  tab = await newPage(browser, 'dcenter');
  await tab.page.goto(`${gw.url}/`);
  await tab.page.waitForSelector('#state.connected');
});

after(async () => {
  if (tab) await tab.close().catch(() => { });
  if (browser) await browser.close();
  if (worker) await worker.stop();
  if (gw) await gw.stop();
});

/* Run a pusher to completion; resolves with its exit status. */
async function push(cmd, args, name) {
  const p = await startProcess(cmd, args, name);
  const r = await deadline(p.exitP, 15000, `${name} to exit`);
  await p.stop();
  return r;
}

/* Resolves once the page lists an item with exactly this text (after the time). */
function shown(text) {
  return tab.page.waitForFunction((t) => [...document.querySelectorAll('#t li')]
    .some((li) => li.lastChild.textContent === t), text, { timeout: 10000 });
}

test('push.py MESSAGE reaches the /dcenter page', opt, async () => {
  const text = 'test message! from push.py, 中文';
  const r = await push(PYTHON, [exampleSrc('push/push.py'), '-e', gw.bridge, text], 'push.py');
  assert.equal(r.code, 0, 'push.py exits 0');
  await shown(text);
});

test('push_emitter MESSAGE... reaches the /dcenter page, in order', opt, async () => {
  const r = await push(example('push/push_emitter'), ['-e', gw.bridge, 'from C, one', 'from C, two'],
    'push_emitter');
  assert.equal(r.code, 0, 'push_emitter exits 0');
  await shown('from C, two');
  const items = await tab.page.$$eval('#t li', (lis) => lis.map((li) => li.lastChild.textContent));
  assert.deepEqual(items.slice(-2), ['from C, one', 'from C, two']);
});

test('push.py --loop pushes the time, --count times', opt, async () => {
  const before = await tab.page.$$eval('#t li', (lis) => lis.length);
  const r = await push(PYTHON, [exampleSrc('push/push.py'), '-e', gw.bridge, '--loop', '--count', '2',
    '--interval', '0.1'], 'push.py --loop');
  assert.equal(r.code, 0, 'push.py --loop --count 2 exits 0');
  await tab.page.waitForFunction((n) => document.querySelectorAll('#t li').length >= n + 2, before,
    { timeout: 10000 });
  const last = await tab.page.$$eval('#t li', (lis) => lis.slice(-2).map((li) => li.lastChild.textContent));
  for (const t of last) assert.match(t, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  await tab.page.screenshot({ path: '/tmp/siogate-push.png' });
});

test('pushing with no gateway fails, with exit status 1', opt, async () => {
  const nowhere = `ipc:///tmp/siogate-test-nowhere-${process.pid}.sock`;
  const c = await push(example('push/push_emitter'), ['-e', nowhere, '-t', '300', 'x'], 'push_emitter (no gateway)');
  assert.equal(c.code, 1);
  const p = await push(PYTHON, [exampleSrc('push/push.py'), '-e', nowhere, '-t', '0.3', 'x'], 'push.py (no gateway)');
  assert.equal(p.code, 1);
  assert.deepEqual(tab.errors, [], 'no errors in the page');
});
