'use strict';
// conn.js (reconnection:false, its own reconnect timer calling socket.connect()) across a brokerd restart.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

let srv, pages, browser, page, peer;

before(async () => ({ srv, peer, pages, browser, page } = await h.setUp({ peer: true, page: true })));
after(() => h.stopAll(peer, browser, pages, srv));

test('conn.js connects and gets updates', async () => {
    await page.goto(pages.url + '/conn.html?reconnect=500');
    await page.waitForFunction(() => events.some(e => e[0] === 'conn' && e[1] === true), null, { timeout: h.TIMEOUT });
    await page.evaluate(() => {
        servConn._socket.on('disconnect', reason => events.push(['disconnect', reason]));
        servConn._socket.on('connect', () => events.push(['connect']));
    });
    await peer.call('setState', 'sio.0.lamp', { val: false, ack: true });
    await h.waitFor(() => page.evaluate(() => updates.some(u => u[0] === 'sio.0.lamp' && u[1].val === false)), 'update before restart');
});

test('brokerd stops: disconnect "transport close", then onConnChange(false)', async () => {
    peer.close();
    await srv.down();
    await page.waitForFunction(() => events.some(e => e[0] === 'disconnect'), null, { timeout: h.TIMEOUT });
    // conn.js reports the loss only after 5 s without a new connection
    await page.waitForFunction(() => events.some(e => e[0] === 'conn' && e[1] === false), null, { timeout: 10000 });
    const s = await page.evaluate(() => ({ events, connected: servConn._socket.connected, isConnected: servConn.getIsConnected() }));
    // brokerd's SIGTERM shutdown sometimes sends a namespace DISCONNECT ("io server disconnect") first
    assert.match(s.events[1][1], /^(transport close|io server disconnect)$/);
    s.events[1][1] = 'transport close';
    assert.deepEqual(s.events, [['conn', true], ['disconnect', 'transport close'], ['conn', false]]);
    assert.equal(s.connected, false);
    assert.equal(s.isConnected, false);
});

test('brokerd starts again: conn.js reconnects (onConnChange(true)) and its subscription works again', async () => {
    await srv.up();
    await page.waitForFunction(() => events.filter(e => e[0] === 'conn').length === 3, null, { timeout: 10000 });
    const ev = await page.evaluate(() => events);
    ev[1][1] = ev[1][1].replace('io server disconnect', 'transport close');
    assert.deepEqual(ev, [['conn', true], ['disconnect', 'transport close'], ['conn', false], ['connect'], ['conn', true]]);
    peer = await h.nodeClient(srv.url);
    // the page's subscribe('*') was re-sent by conn.js after authenticate: updates flow again
    const t0 = Date.now();
    await peer.call('setState', 'sio.0.text', { val: 'after restart', ack: true });
    await h.waitFor(() => page.evaluate(() => updates.some(u => u[0] === 'sio.0.text' && u[1].val === 'after restart')), 'update after restart');
    assert.ok(Date.now() - t0 < 1000);
    // and commands from the page work
    await peer.call('subscribe', 'sio.0.temp');
    const seen = h.waitEvent(peer, 'stateChange', id => id === 'sio.0.temp');
    await page.evaluate(() => servConn.setState('sio.0.temp', { val: 99, ack: false }));
    assert.equal((await seen)[1].val, 99);
    assert.deepEqual(page.errors, []);
});

// Clients with reconnection:true (Connection.js, socket.io-client 4, ours) do not reconnect after a
// namespace DISCONNECT ("io server disconnect"): that means "the server sent you away". A brokerd
// restart should therefore just close the transport ("transport close"), never send "41" first.
test('brokerd graceful shutdown closes the transport without a namespace DISCONNECT', async () => {
    const reasons = {};
    for (let i = 0; i < 8; i++) {
        const c = await h.nodeClient(srv.url);
        const r = h.waitEvent(c, 'disconnect');
        await srv.down();
        const [reason] = await r;
        reasons[reason] = (reasons[reason] || 0) + 1;
        c.close();
        await srv.up();
    }
    assert.deepEqual(reasons, { 'transport close': 8 });
});
