// Drives headless Chromium through live reload's scenarios for
// tests/integration/live_browser.rs: node live_reload.mjs SCENARIO ORIGIN ROOT [BINARY PORT]
// Prints one JSON line with what happened; exits 1 (with the reason) if
// the scenario failed. Every wait has a timeout.
import { chromium } from 'playwright-core';
import { writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { join, dirname, basename } from 'node:path';
import { spawn } from 'node:child_process';

const [scenario, origin, root, binary, port] = process.argv.slice(2);
const WAIT = 15000;

/** Saves as editors do: a hidden temporary beside the file, renamed over it. */
function save(name, text) {
  const path = join(root, name);
  mkdirSync(dirname(path), { recursive: true });
  const temporary = join(dirname(path), `.${basename(path)}.tmp`);
  writeFileSync(temporary, text);
  renameSync(temporary, path);
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

/** A page at `path`, loaded, with its event stream open. */
async function open(context, path) {
  const page = await context.newPage();
  page.loads = 0;
  page.on('load', () => page.loads++);
  await listening(page, () => page.goto(origin + path, { timeout: WAIT }));
  return page;
}

/** Runs `action` and waits until `page` (or one of its tabs) has the stream open. */
async function listening(page, action) {
  const stream = page.context().waitForEvent('response', {
    predicate: r => new URL(r.url()).pathname === '/.rawserve/live' && r.status() === 200,
    timeout: WAIT,
  });
  await action();
  await stream;
}

/** Waits until `page` has loaded `count` times in all. */
async function loaded(page, count) {
  const deadline = Date.now() + WAIT;
  while (page.loads < count) {
    if (Date.now() > deadline) throw new Error(`page loaded ${page.loads} times, not ${count}`);
    await sleep(10);
  }
}

function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'],
    timeout: WAIT * 4,
  });
}

const scenarios = {
  // An HTML file and a script saved: each reloads the page.
  async reload(context) {
    const page = await open(context, '/page.html');
    await page.evaluate(() => (window.marker = 'before'));
    await listening(page, async () => {
      save('page.html', '<!doctype html><title>page</title><body><p id="v">two</p><script src="/app.js"></script></body>');
      await loaded(page, 2);
    });
    const html = await page.textContent('#v');
    save('app.js', 'document.body.dataset.app = "two";');
    await loaded(page, 3);
    await page.waitForSelector('body[data-app="two"]', { timeout: WAIT });
    return { html, marker: await page.evaluate(() => window.marker ?? null), loads: page.loads };
  },
  // A stylesheet saved: applied in place; what was typed stays.
  async css(context) {
    const page = await open(context, '/form.html');
    await page.click('#field');
    await page.keyboard.type('typed by hand');
    await page.evaluate(() => (window.marker = 'kept'));
    const before = await page.$eval('#field', e => getComputedStyle(e).color);
    save('form.css', '#field { color: rgb(0, 128, 0); }');
    await page.waitForFunction(() => getComputedStyle(document.getElementById('field')).color === 'rgb(0, 128, 0)', null, { timeout: WAIT });
    const links = await page.$$eval('link[rel=stylesheet]', ls => ls.map(l => l.getAttribute('href')));
    return {
      before,
      after: await page.$eval('#field', e => getComputedStyle(e).color),
      value: await page.$eval('#field', e => e.value),
      marker: await page.evaluate(() => window.marker ?? null),
      loads: page.loads,
      links,
    };
  },
  // Changes under .git/ and hidden names: nothing happens.
  async hidden(context) {
    const page = await open(context, '/page.html');
    for (let i = 0; i < 10; i++) save(`.git/objects/${i}`, 'x');
    save('.git/HEAD', 'ref: refs/heads/main');
    save('.page.html.swp', 'swap');
    await sleep(1500);
    return { loads: page.loads };
  },
  // Fifty saves in a row: one reload.
  async burst(context) {
    const page = await open(context, '/page.html');
    // Pauses of 30 ms or more (the debounce) between saves: a loaded
    // machine may deschedule this loop, and such a pause ends a burst.
    let pauses = 0;
    let previous = performance.now();
    for (let i = 0; i < 50; i++) {
      const now = performance.now();
      if (now - previous >= 30) pauses++;
      previous = now;
      save('page.html', `<!doctype html><p>save ${i}</p>`);
    }
    await loaded(page, 2);
    await sleep(1500);
    return { loads: page.loads, text: await page.textContent('p'), pauses };
  },
  // Eight tabs of one origin (past HTTP/1.1's six connections per host):
  // all load, and all reload on a save.
  async tabs(context) {
    // The first holds the stream; the others only listen to it.
    const pages = [await open(context, '/page.html?tab=0')];
    for (let i = 1; i < 8; i++) {
      const page = await context.newPage();
      page.loads = 0;
      page.on('load', () => page.loads++);
      await page.goto(`${origin}/page.html?tab=${i}`, { timeout: WAIT });
      pages.push(page);
    }
    save('page.html', '<!doctype html><p>for every tab</p>');
    for (const page of pages) await loaded(page, 2);
    return { loads: pages.map(p => p.loads) };
  },
  // The server restarts: the page reconnects and reloads.
  async restart(context) {
    let server = start();
    await ready();
    const page = await open(context, '/page.html');
    server.kill('SIGTERM');
    await new Promise(resolve => server.once('exit', resolve));
    server = start();
    try {
      await loaded(page, 2);
      return { loads: page.loads };
    } finally {
      server.kill('SIGKILL');
    }
  },
};

/** Starts the server for the restart scenario. */
function start() {
  return spawn(binary, [root, '--port', port, '--live-reload', '--quiet'], { stdio: 'ignore' });
}

/** Waits until the server answers. */
async function ready() {
  const deadline = Date.now() + WAIT;
  for (;;) {
    try {
      if ((await fetch(`${origin}/hello`)).ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error('the server did not start');
    await sleep(50);
  }
}

const browser = await launch();
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const result = await scenarios[scenario](context);
  console.log(JSON.stringify(result));
} catch (e) {
  console.error(`${scenario}: ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
