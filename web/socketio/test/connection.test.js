'use strict';
// ioBroker's Connection.js (the modern client of admin/vis-2 style pages; iobroker.socketio
// example/socket-client, unchanged) on top of our socket.io.js.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

let srv, pages, browser, page, peer;

before(async () => ({ srv, peer, pages, browser, page } = await h.setUp({ peer: true, page: true })));
after(() => h.stopAll(peer, browser, pages, srv));

test('Connection.js becomes ready (getVersion, authenticate, system.config)', async () => {
    await page.goto(pages.url + '/connection.html');
    await page.waitForFunction(() => log.includes('ready'), null, { timeout: 10000 });
    assert.equal(await page.evaluate(() => io.brokerd), true);
    assert.equal(await page.evaluate(() => conn.connected), true);
});

test('getStates, subscribeState and setState through Connection.js', async () => {
    const states = await page.evaluate(() => conn.getStates('sio.0.*'));
    assert.equal(states['sio.0.lamp'].val, true);
    assert.equal(states['sio.0.text'].val, 'hello');
    await page.evaluate(() => conn.subscribeState('sio.0.temp', (id, st) => updates.push([id, st && st.val])));
    await peer.call('setState', 'sio.0.temp', { val: 7, ack: true });
    await h.waitFor(() => page.evaluate(() => updates.some(u => u[0] === 'sio.0.temp' && u[1] === 7)), 'subscribeState update');
    await peer.call('subscribe', 'sio.0.text');
    const seen = h.waitEvent(peer, 'stateChange', id => id === 'sio.0.text');
    await page.evaluate(() => conn.setState('sio.0.text', 'from Connection.js'));
    assert.equal((await seen)[1].val, 'from Connection.js');
});

test('after a brokerd restart Connection.js is ready again and its subscription is restored', async () => {
    peer.close();
    await srv.restart('SIGKILL'); // SIGTERM may send a namespace DISCONNECT first (see reconnect.test.js)
    peer = await h.nodeClient(srv.url);
    // onProgress: CONNECTING (0) on the disconnect, READY (3) after the reconnect
    await page.waitForFunction(() => conn.connected && log.lastIndexOf('progress:3') > log.indexOf('progress:0') && log.includes('progress:0'),
        null, { timeout: 15000 });
    await h.waitFor(async () => {
        await peer.call('setState', 'sio.0.temp', { val: 8, ack: true });
        return page.evaluate(() => updates.some(u => u[0] === 'sio.0.temp' && u[1] === 8));
    }, 'subscription after restart', 10000);
    assert.deepEqual(page.errors, []);
    assert.deepEqual(await page.evaluate(() => log), ['progress:1', 'progress:3', 'ready', 'progress:0', 'progress:3']);
});
