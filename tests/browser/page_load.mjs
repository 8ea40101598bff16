// Times page loads in headless Chromium for bench/h2-page:
//
//   node page_load.mjs URL LOADS h1|h2
//
// Launches Debian's /usr/bin/chromium once (with --disable-http2 for h1, so
// the same server is measured over HTTP/1.1's six connections per host),
// then loads URL LOADS times, each in a new browser context: an empty cache
// and new connections, as a first visit. Certificate errors are ignored
// (the bench's certificate is self-signed). Prints one JSON line per load:
// the load event's time from navigation start (ms), the connection set-up
// time of the page itself, the resources fetched, their protocols and
// their statuses. Exits 1 with the reason when a load fails; every wait has
// a limit.
import { chromium } from 'playwright-core';

const [url, loadsText, protocol] = process.argv.slice(2);
const loads = Number(loadsText);
/** Per load: 100 assets over a 50 ms round trip take about a second. */
const WAIT = 60000;

if (!url || !(loads > 0) || !['h1', 'h2'].includes(protocol)) {
  console.error('usage: node page_load.mjs URL LOADS h1|h2');
  process.exit(2);
}

const args = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'];
if (protocol === 'h1') args.push('--disable-http2');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args, timeout: WAIT });
try {
  for (let i = 0; i < loads; i++) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      await page.goto(url, { timeout: WAIT, waitUntil: 'load' });
      const timing = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const resources = performance.getEntriesByType('resource');
        return {
          load_ms: nav.loadEventStart,
          connect_ms: nav.connectEnd - nav.connectStart,
          protocol: nav.nextHopProtocol,
          resources: resources.length,
          protocols: [...new Set(resources.map(r => r.nextHopProtocol))],
          statuses: [...new Set(resources.map(r => r.responseStatus))],
        };
      });
      console.log(JSON.stringify(timing));
    } finally {
      await context.close();
    }
  }
} catch (e) {
  console.error(`page_load: ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
