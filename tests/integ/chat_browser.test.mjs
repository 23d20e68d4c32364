// chat_browser.test.mjs: the chat example (examples/chat/) in a real browser.
//
// The real gateway serves the page (--static examples/chat) and socket.io.js
// (--client-dir); headless Chromium opens it twice.  Both pages pick a
// nickname and join a room, page A sends a message, page B sees it and A
// sees the ack tick; then B leaves and closes, and A sees the notices; then
// the worker is replaced and A carries on with the new one.  The
// same test runs once with the C worker and once with the Python worker,
// which must behave the same.  Skipped when Chromium or playwright-core is
// missing.  Screenshots of each run go to /tmp/siogate-chat-<worker>{,-b}.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, deadline } from '../lib/harness.mjs';
import {
  fileBrowser, startProcess, example, exampleSrc, CLIENT_DIR, PYTHON,
} from '../lib/browser.mjs';

const { skip, openPage } = await fileBrowser();

const WORKERS = {
  C: (bridge) => [example('chat/chat_worker'), ['-e', bridge]],
  Python: (bridge) => [PYTHON, [exampleSrc('chat/chat_worker.py'), '-e', bridge]],
};

/* Open the chat page, choose a nickname, and wait for the lobby. */
async function enter(url, name) {
  const p = await openPage(name);
  const { page } = p;
  await page.goto(`${url}/`);
  await page.waitForSelector('#nick-dialog[open]');
  await page.fill('#nick-input', name);
  await page.press('#nick-input', 'Enter');
  await page.waitForFunction((n) => document.getElementById('me').textContent === n, name);
  await page.waitForSelector('#nick-dialog:not([open])', { state: 'attached' });
  /* The first nickname joins the lobby. */
  await page.waitForSelector(`.log[data-room="lobby"] li.notice:has-text("${name} joined #lobby")`);
  return p;
}

/* Join a room through the room form; resolves when the worker's notice arrived. */
async function joinRoom(page, name, room) {
  await page.fill('#room-input', room);
  await page.press('#room-input', 'Enter');
  await page.waitForSelector(`#rooms li[data-room="${room}"].joined.active`);
  await page.waitForSelector(`.log[data-room="${room}"] li.notice:has-text("${name} joined #${room}")`);
}

async function chatRun(kind) {
  const gw = await startGateway(['--static', exampleSrc('chat'), '--client-dir', CLIENT_DIR]);
  const [cmd, args] = WORKERS[kind](gw.bridge);
  let worker = null;
  let worker2 = null;
  const pages = [];
  try {
    worker = await startProcess(cmd, args, `chat_worker (${kind})`, /registered/);
    await gw.waitLog(/worker \d+ \(chat\) registered/);

    const a = await enter(gw.url, 'alice');
    pages.push(a);
    const b = await enter(gw.url, '小明');
    pages.push(b);
    const room = 'siogate-test';
    await joinRoom(a.page, 'alice', room);
    await joinRoom(b.page, '小明', room);
    /* A was there first: it sees B come in, and B in the online list. */
    await a.page.waitForSelector(`.log[data-room="${room}"] li.notice:has-text("小明 joined #${room}")`);
    await a.page.waitForSelector('#online li:has-text("小明")');
    await a.page.waitForSelector(`#rooms li[data-room="${room}"] .count:text-is("2")`);

    const text = `hello from alice via the ${kind} worker <b>not bold</b>`;
    await a.page.fill('#msg-input', text);
    await a.page.press('#msg-input', 'Enter');

    /* B sees it, from alice, as text (not HTML). */
    const got = await b.page.waitForSelector(`.log[data-room="${room}"] li.msg:not(.mine)`);
    assert.equal(await got.$eval('.nick', (e) => e.textContent), 'alice');
    assert.equal(await got.$eval('.text', (e) => e.textContent), text);
    assert.equal(await got.$('.text b'), null, 'message text must not be parsed as HTML');
    /* A sees its own message acknowledged: the tick. */
    const mine = await a.page.waitForSelector(`.log[data-room="${room}"] li.msg.mine.acked`);
    assert.equal(await mine.$eval('.tick', (e) => e.textContent), '✓');
    assert.equal(await a.page.$(`.log[data-room="${room}"] li.msg:not(.mine)`), null,
      'the sender gets no copy of its own message');

    await a.page.screenshot({ path: `/tmp/siogate-chat-${kind}.png` });
    await b.page.screenshot({ path: `/tmp/siogate-chat-${kind}-b.png` });

    /* B leaves the room, then closes its page: A is told both. */
    await b.page.click('#leave');
    await a.page.waitForSelector(`.log[data-room="${room}"] li.notice:has-text("小明 left #${room}")`);
    await b.page.waitForSelector(`#rooms li[data-room="${room}"]:not(.joined)`);
    await b.close();
    pages.splice(pages.indexOf(b), 1);
    await a.page.waitForFunction(() => !document.getElementById('online').textContent.includes('小明'));
    assert.deepEqual([...a.errors, ...b.errors], [], 'no errors in the pages');
    assert.ok(worker.exited() === null, 'the worker is still running');

    /*
     * A second worker comes and the first one leaves: the gateway hands
     * A's socket to the new worker (or closes it, and the page reconnects
     * and says its name and rooms again).  Names and rooms live in the
     * gateway, so A's next message is accepted: the ack proves the new
     * worker saw A's nickname and room.
     */
    const mark = gw.mark();
    worker2 = await startProcess(cmd, args, `chat_worker 2 (${kind})`, /registered/);
    await gw.waitLog(/worker \d+ \(chat\) registered/, 10000, mark);
    const r1 = await worker.stop();
    assert.equal(r1.code, 0, `the ${kind} worker exits 0 on SIGTERM`);
    worker = null;
    await gw.waitLog(/worker \d+ \(chat\) dropped/, 10000, mark);
    await a.page.waitForSelector('#status.connected');
    await a.page.waitForSelector('#send:not([disabled])');
    await a.page.fill('#msg-input', 'after the restart');
    await a.page.press('#msg-input', 'Enter');
    await a.page.waitForSelector(`.log[data-room="${room}"] li.msg.mine.acked:has-text("after the restart")`);
    await a.page.waitForSelector('#online li.me:text-is("alice")');
    assert.deepEqual(a.errors, [], 'no errors in page A');
    assert.ok(gw.alive(), 'the gateway is still running');
  } finally {
    for (const p of pages) await p.close().catch(() => { });
    for (const w of [worker, worker2]) {
      if (w) {
        const r = await w.stop();
        assert.equal(r.code, 0, `the ${kind} worker exits 0 on SIGTERM`);
      }
    }
    await gw.stop();
  }
}

for (const kind of Object.keys(WORKERS)) {
  test(`chat page in two browsers, ${kind} worker: nicknames, rooms, message, ack tick`,
    skip ? { skip } : {}, () => deadline(chatRun(kind), 60000, `the chat run with the ${kind} worker`));
}
