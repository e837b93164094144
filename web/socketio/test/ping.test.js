'use strict';
// Engine.IO v4 heartbeat: brokerd pings every second; the library answers, and it notices a server that
// stops answering (brokerd SIGSTOPped) within pingInterval + pingTimeout (3 s), then reconnects.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');
const { record } = require('./lib/record');

let srv, pages, browser;

before(async () => ({ srv, pages, browser } = await h.setUp({ config: ['socketio:', '  ping_interval: 1s', '  ping_timeout: 2s'] })));

after(() => {
    srv?.signal('SIGCONT'); // a test may have left brokerd SIGSTOPped
    return h.stopAll(browser, pages, srv);
});

for (const lib of ['ours', 'ref']) {
    test(`${lib}: server pings are answered; the connection outlives several ping periods`, async () => {
        const page = await h.newPage(browser);
        await page.goto(`${pages.url}/bare.html?lib=${lib}`);
        await page.evaluate(record, { opts: { forceNew: true } });
        await page.waitForFunction(() => s.connected, null, { timeout: h.TIMEOUT });
        await h.sleep(4500);
        const r = await page.evaluate(() => ({ ev, pings: window.pings }));
        assert.deepEqual(r.ev, ['connect']);
        assert.ok(r.pings >= 3, `pings: ${r.pings}`);
        await page.context().close();
    });
}

for (const lib of ['ours', 'ref']) {
    test(`${lib}: a server that stops answering → disconnect "ping timeout" → reconnect when it is back`, async () => {
        const page = await h.newPage(browser);
        await page.goto(`${pages.url}/bare.html?lib=${lib}`);
        await page.evaluate(record, { opts: { forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 200, timeout: 1000 } });
        await page.waitForFunction(() => s.connected, null, { timeout: h.TIMEOUT });
        const t0 = Date.now();
        srv.signal('SIGSTOP');
        try {
            await page.waitForFunction(() => ev.includes('disconnect:ping timeout'), null, { timeout: 6000 });
            assert.ok(Date.now() - t0 < 4500, `noticed after ${Date.now() - t0} ms`);
        } finally {
            srv.signal('SIGCONT');
        }
        await page.waitForFunction(() => s.connected, null, { timeout: 10000 });
        const ev = await page.evaluate(() => ev);
        assert.equal(ev[0], 'connect');
        assert.equal(ev[1], 'disconnect:ping timeout');
        assert.equal(ev[ev.length - 1], 'connect');
        assert.ok(ev.some(e => /^reconnect:\d+$/.test(e)), ev.join());
        await page.context().close();
    });
}
