// browser.mjs: helpers for the browser tests (tests/integ/*_browser.test.mjs).
//
// A real headless Chromium (Debian's `chromium`, /usr/bin/chromium, or
// $CHROMIUM) driven by npm `playwright-core`, which downloads no browser of
// its own.  Each launch gets a fresh temporary profile (user-data-dir) from
// playwright, and each page its own browser context (its own storage).
// `browserSkip()` tells a test file to skip when either piece is missing.
//
// Also: paths of the example programs, and `startProcess`, a child process
// (a worker, an emitter) whose output is collected and can be waited on.
// Every wait has a deadline; nothing here sleeps to synchronise.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after } from 'node:test';
import { spawnLogged } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
/** The source tree ($TOP_SRCDIR from make, else the tree this file is in). */
export const SRCDIR = process.env.TOP_SRCDIR || path.resolve(here, '..', '..');
/** The build tree: the gateway binary is <builddir>/gateway/siogate. */
export const BUILDDIR = process.env.SIOGATE
  ? path.resolve(path.dirname(process.env.SIOGATE), '..') : SRCDIR;
/** socket.io-client's dist folder, for the gateway's --client-dir. */
export const CLIENT_DIR = path.join(here, '..', 'node_modules', 'socket.io-client', 'dist');
export const PYTHON = '/usr/bin/python3';

/** The path of a program built from examples/ (e.g. 'chat/chat_worker'). */
export function example(rel) {
  return path.join(BUILDDIR, 'examples', rel);
}

/** A source file of examples/ (e.g. 'chat/chat_worker.py'). */
export function exampleSrc(rel) {
  return path.join(SRCDIR, 'examples', rel);
}

/** Why the browser tests cannot run here, or null when they can. */
export async function browserSkip() {
  if (!fs.existsSync(CHROMIUM)) {
    return `no Chromium at ${CHROMIUM} (Debian package chromium)`;
  }
  try {
    await import('playwright-core');
  } catch {
    return 'npm playwright-core is not installed (npm ci in tests/)';
  }
  if (!fs.existsSync(path.join(CLIENT_DIR, 'socket.io.js'))) {
    return 'npm socket.io-client is not installed (npm ci in tests/)';
  }
  return null;
}

/** Launch headless Chromium; close it with browser.close(). */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/*
 * A new page in a context of its own.  The page's console errors and
 * uncaught exceptions go to `errors` (and to stderr, i.e. the test's log).
 */
export async function newPage(browser, name) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  const errors = [];
  page.on('pageerror', (e) => {
    errors.push(`${name}: ${e.message}`);
    process.stderr.write(`[${name}] page error: ${e.message}\n`);
  });
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${name}: console: ${m.text()}`);
    process.stderr.write(`[${name}] console.${m.type()}: ${m.text()}\n`);
  });
  return { page, context, errors, close: () => context.close() };
}

/*
 * Start a child process (harness.mjs spawnLogged); resolves once a line of
 * its output matches readyRe (or at once without one), else stops it and
 * rejects with its output.  Returns the spawnLogged handle: {proc, logs,
 * waitLog(re, ms), exitP, exited(), stop()}.
 */
export async function startProcess(cmd, args, name, readyRe = null, ms = 10000) {
  const h = spawnLogged(cmd, args, name);
  if (readyRe) {
    try {
      await h.waitLog(readyRe, ms);
    } catch (e) {
      await h.stop();
      throw e;
    }
  }
  return h;
}

/**
 * For a test file whose tests share one Chromium: launched before them,
 * closed after them.  Returns { skip } (browserSkip()'s answer; nothing is
 * launched when it is not null) and openPage(name), newPage() in that browser.
 */
export async function fileBrowser() {
  const skip = await browserSkip();
  let browser = null;
  before(async () => {
    if (!skip) browser = await launchBrowser();
  });
  after(async () => {
    if (browser) await browser.close();
  });
  return { skip, openPage: (name) => newPage(browser, name) };
}
