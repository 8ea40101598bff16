// Loads a page in a real browser and reports, as one JSON line, the
// protocol each response came over (`nextHopProtocol` of the navigation and
// of every resource, and `protocols`: each of them once) and the demo
// page's live checks; then the DOM as the page's scripts left it. For
// tests/integration/http2_browsers.rs:
//
//   node demo_page.mjs chromium URL     (Debian's /usr/bin/chromium, via playwright-core)
//   node demo_page.mjs firefox URL      (Debian's firefox-esr, via Marionette)
//
// Certificate errors are ignored (the server's certificate is self-signed).
// Exits 1 with the reason when the browser fails; every wait has a limit.
// playwright-core drives only its own patched Firefox build, so Firefox is
// driven through Marionette, the remote protocol every Firefox build has
// built in: length-prefixed JSON over TCP on a port Firefox picks and
// writes into its profile (`MarionetteActivePort`).
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';

const [browserName, url] = process.argv.slice(2);
/** Per wait: a cold browser on a busy two-core machine is slow to start. */
const WAIT = 60000;
/** How long the page's live checks may stay "pending" once it has loaded. */
const CHECKS_WAIT = 15000;

/**
 * Runs in the page: waits until no live check says "pending" (or
 * `limit` ms pass), then reports protocols and checks. Written as the body
 * of a function of `limit` so that both drivers can send it as text.
 */
const REPORT = `
  const deadline = Date.now() + limit;
  const items = () => [...document.querySelectorAll('.status li')];
  while (items().some(li => li.textContent.includes('pending')) && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 50));
  }
  const navigation = performance.getEntriesByType('navigation')[0];
  return {
    protocol: navigation ? navigation.nextHopProtocol : null,
    resources: performance.getEntriesByType('resource').map(r => [new URL(r.name).pathname, r.nextHopProtocol]),
    module: document.documentElement.dataset.module ?? null,
    checks: items().map(li => ({ text: li.textContent, ok: li.classList.contains('ok') })),
    dom: document.documentElement.outerHTML,
  };
`;

async function withChromium() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'],
    timeout: WAIT,
  });
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(url, { timeout: WAIT, waitUntil: 'load' });
    const report = new Function('limit', `return (async () => {${REPORT}})();`);
    return await page.evaluate(report, CHECKS_WAIT);
  } finally {
    await browser.close();
  }
}

/** A Marionette connection: `call(name, params)` resolves to the result. */
function marionette(port) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    let greeted = false;
    let next = 1;
    const waiting = new Map();
    socket.on('error', reject);
    socket.on('data', chunk => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const colon = buffer.indexOf(':');
        if (colon < 0) return;
        const length = Number(buffer.subarray(0, colon).toString());
        if (buffer.length < colon + 1 + length) return;
        const message = JSON.parse(buffer.subarray(colon + 1, colon + 1 + length).toString());
        buffer = buffer.subarray(colon + 1 + length);
        if (!greeted) {
          // {"applicationType":"gecko","marionetteProtocol":3}
          greeted = true;
          resolve({ call, close: () => socket.destroy() });
          continue;
        }
        const [, id, error, result] = message; // [1, id, error, result]
        const pending = waiting.get(id);
        waiting.delete(id);
        if (!pending) continue;
        if (error) pending.reject(new Error(`${error.error}: ${error.message}`));
        else pending.resolve(result);
      }
    });
    function call(name, params) {
      const id = next++;
      const text = JSON.stringify([0, id, name, params]);
      socket.write(`${Buffer.byteLength(text)}:${text}`);
      return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
    }
  });
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

/** Waits for `read()` to return something other than undefined. */
async function poll(what, read) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${WAIT} ms`);
    await sleep(100);
  }
}

/**
 * Preferences that keep a headless Firefox quiet and local: Marionette on
 * a port of its choosing, no first-run pages, updates, telemetry, captive
 * portal or safe-browsing traffic, no HTTP/3.
 */
const FIREFOX_PREFS = {
  'marionette.port': 0,
  'browser.shell.checkDefaultBrowser': false,
  'browser.startup.homepage_override.mstone': 'ignore',
  'browser.aboutwelcome.enabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'toolkit.telemetry.enabled': false,
  'app.update.disabledForTesting': true,
  'app.normandy.enabled': false,
  'extensions.update.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'network.http.http3.enable': false,
  'services.settings.server': 'data:,',
};

async function withFirefox() {
  const profile = mkdtempSync(join(tmpdir(), 'rawserve-firefox-'));
  const prefs = Object.entries(FIREFOX_PREFS).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`);
  writeFileSync(join(profile, 'user.js'), prefs.join('\n') + '\n');
  const child = spawn('firefox-esr', ['--headless', '--marionette', '--no-remote', '--profile', profile, 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, MOZ_CRASHREPORTER_DISABLE: '1' },
  });
  let stderr = '';
  child.stderr.on('data', d => (stderr += d));
  let exited = false;
  child.on('exit', () => (exited = true));
  let session;
  try {
    const port = await poll('Firefox wrote no MarionetteActivePort', () => {
      if (exited) throw new Error(`firefox-esr exited: ${stderr.slice(-2000)}`);
      try {
        const text = readFileSync(join(profile, 'MarionetteActivePort'), 'utf8').trim();
        return text ? Number(text) : undefined;
      } catch {
        return undefined;
      }
    });
    session = await marionette(port);
    // Marionette takes the capabilities flat (geckodriver merges
    // alwaysMatch and firstMatch into this form before it sends them).
    await session.call('WebDriver:NewSession', { acceptInsecureCerts: true, pageLoadStrategy: 'normal' });
    await session.call('WebDriver:SetTimeouts', { pageLoad: WAIT, script: WAIT });
    await session.call('WebDriver:Navigate', { url });
    // WebDriver's Execute Script awaits a returned promise.
    const { value } = await session.call('WebDriver:ExecuteScript', {
      script: `const limit = arguments[0]; return (async () => {${REPORT}})();`,
      args: [CHECKS_WAIT],
    });
    await session.call('Marionette:Quit', { flags: ['eForceQuit'] }).catch(() => {});
    return value;
  } finally {
    if (session) session.close();
    // Quit asked it to go; a Firefox that did not is killed, then its profile removed.
    const gone = Date.now() + 10000;
    while (!exited && Date.now() < gone) await sleep(100);
    if (!exited) child.kill('SIGKILL');
    await poll('firefox-esr did not exit', () => (exited ? true : undefined)).catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

const drivers = { chromium: withChromium, firefox: withFirefox };
try {
  if (!drivers[browserName] || !url) throw new Error('usage: node demo_page.mjs chromium|firefox URL');
  const { dom, ...report } = await drivers[browserName]();
  // Every protocol the page's responses came over, once each.
  report.protocols = [...new Set([report.protocol, ...report.resources.map(([, p]) => p)])];
  console.log(JSON.stringify(report));
  console.log(dom);
} catch (e) {
  console.error(`${browserName}: ${e.stack || e}`);
  process.exitCode = 1;
}
