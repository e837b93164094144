'use strict';
// brokerd restarts under a connected page: status, command queue, restored subscriptions.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

let srv, browser, page;

before(async () => {
    let other;
    ({ srv, browser, other, page } = await h.setUp({ other: true, page: true }));
    other.close(); // needed only to seed the objects
    await page.fill('#filter', 'web.0.*');
    await page.click('#filter-form button');
    await page.locator('#states tr[data-id="web.0.message"]').waitFor({ timeout: h.CALL_TIMEOUT });
});

after(() => h.stopAll(browser, srv));

test('reconnects after brokerd restarts; queued commands are sent; subscriptions are restored', async () => {
    await srv.down();
    await page.waitForSelector('#conn.off', { timeout: h.CALL_TIMEOUT });
    assert.equal(await page.evaluate(() => servConn.getIsConnected()), false);

    // issued while disconnected: queued, sent after reconnect
    await page.evaluate(() => {
        window.queued = null;
        servConn.setState('web.0.message', 'written while offline', err => (window.queued = { err }));
    });
    // a command whose timeout passes while still disconnected fails clearly
    const offline = await page.evaluate(() => new Promise(r => {
        const saved = servConn._connOptions.timeout;
        servConn._connOptions.timeout = 200;
        servConn.getStates(['web.0.message'], err => r(err));
        servConn._connOptions.timeout = saved;
    }));
    assert.equal(offline, 'notConnectedError');

    await srv.up();
    await page.waitForSelector('#conn.on', { timeout: 15000 });
    await page.waitForFunction(() => window.queued !== null, null, { timeout: h.CALL_TIMEOUT });
    assert.deepEqual(await page.evaluate(() => window.queued), { err: null });

    const other = await h.nodeClient(srv.url);
    try {
        const [, st] = await other.call('getState', 'web.0.message');
        assert.equal(st.val, 'written while offline');
        // the dashboard's subscription (web.0.*) was restored by conn.js
        await other.call('setState', 'web.0.message', { val: 'after restart', ack: true });
        await page.waitForFunction(() => document.querySelector('#states tr[data-id="web.0.message"] .val')?.textContent === 'after restart', null, { timeout: 1000 });
    } finally {
        other.close();
    }
});
