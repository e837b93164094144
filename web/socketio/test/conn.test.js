'use strict';
// ioBroker's real example/conn.js (servConn), unchanged, on top of web/socketio/socket.io.js and brokerd.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

let srv, pages, browser, page, peer;

// call(fnSource, ...args): runs servConn.<something> in the page and resolves with the callback's arguments
const inPage = (fn, ...args) => page.evaluate(([src, a]) => new Promise(done => {
    // eslint-disable-next-line no-new-func
    new Function('done', 'args', src)(done, a);
}), [fn, args]);

before(async () => ({ srv, peer, pages, browser, page } = await h.setUp({ peer: true, page: true })));
after(() => h.stopAll(peer, browser, pages, srv));

test('the page loads our socket.io.js and conn.js connects: onConnChange(true) over a WebSocket', async t => {
    t.diagnostic(`socket.io.js served from ${pages.lib.from}`);
    await page.goto(pages.url + '/conn.html');
    await page.waitForFunction(() => events.some(e => e[0] === 'conn' && e[1] === true), null, { timeout: h.TIMEOUT });
    const info = await page.evaluate(() => ({
        ours: io.brokerd === true,
        connected: servConn.getIsConnected(),
        sockConnected: servConn._socket.connected,
        disconnected: servConn._socket.disconnected,
        id: servConn._socket.id,
        transport: servConn._socket.io.engine.transport.name,
        events,
    }));
    assert.equal(info.ours, true, 'window.io is brokerd\'s library');
    assert.equal(info.connected, true);
    assert.equal(info.sockConnected, true);
    assert.equal(info.disconnected, false);
    assert.equal(typeof info.id, 'string');
    assert.equal(info.transport, 'websocket');
    assert.deepEqual(info.events, [['conn', true]]);
    assert.deepEqual(page.errors, []);
});

test('getStates', async () => {
    const [err, states] = await inPage('servConn.getStates(args[0], (e, s) => done([e, s]))', ['sio.0.lamp', 'sio.0.temp', 'sio.0.nothing']);
    assert.equal(err, null);
    assert.equal(states['sio.0.lamp'].val, true);
    assert.equal(states['sio.0.lamp'].ack, true);
    assert.equal(states['sio.0.temp'].val, 21.5);
    assert.equal(states['sio.0.nothing'], null);
    const [err2, all] = await inPage('servConn.getStates(null, (e, s) => done([e, s]))');
    assert.equal(err2, null);
    assert.equal(all['sio.0.text'].val, 'hello');
});

test('setState from the page reaches a Node socket.io-client 4 subscriber', async () => {
    await peer.call('subscribe', 'sio.0.*');
    const seen = h.waitEvent(peer, 'stateChange', id => id === 'sio.0.temp');
    const [err] = await inPage('servConn.setState("sio.0.temp", {val: 23.25, ack: false}, e => done([e === undefined ? null : e]))');
    assert.equal(err, null);
    const [id, state] = await seen;
    assert.equal(id, 'sio.0.temp');
    assert.equal(state.val, 23.25);
    assert.equal(state.ack, false);
});

test('a stateChange from the Node client reaches onUpdate in the page', async () => {
    const t0 = Date.now();
    await peer.call('setState', 'sio.0.text', { val: 'from node ✓', ack: true });
    const upd = await h.waitFor(() => page.evaluate(() => updates.find(u => u[0] === 'sio.0.text' && u[1].val === 'from node ✓')), 'onUpdate');
    assert.equal(upd[1].ack, true);
    assert.ok(Date.now() - t0 < 1000, 'update within 1 s');
});

test('writeFile / readFile (text) through conn.js', async () => {
    const text = 'hello from the page — ü €\n';
    const [werr] = await inPage('servConn.writeFile("/vis/sio/test.txt", args[0], e => done([e === undefined ? null : e]))', text);
    assert.equal(werr, null);
    const [err, data, filename] = await inPage('servConn.readFile("/vis/sio/test.txt", (e, d, f, m) => done([e, d, f, m]), true)');
    assert.equal(err, null);
    assert.equal(data, text);
    assert.equal(filename, 'sio/test.txt');
    const [nerr, ndata] = await peer.call('readFile', 'vis', 'sio/test.txt');
    assert.equal(nerr, null);
    assert.equal(Buffer.from(ndata).toString('utf8'), text);
});

test('binary readFile: the attachment arrives in the page as an ArrayBuffer', async () => {
    const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) & 255));
    const [werr] = await peer.call('writeFile', 'vis', 'sio/img.png', bytes, {});
    assert.equal(werr, null);
    const r = await inPage(`servConn.readFile("/vis/sio/img.png", (e, d, f, m) => done({
        err: e, isAB: d instanceof ArrayBuffer, bytes: d instanceof ArrayBuffer ? Array.from(new Uint8Array(d)) : String(d), mime: m }), true)`);
    assert.equal(r.err, null);
    assert.equal(r.isAB, true, 'data is an ArrayBuffer');
    assert.deepEqual(r.bytes, [...bytes]);
    assert.equal(r.mime, 'image/png');
});

test('binary emit from the page: Uint8Array and ArrayBuffer travel as attachments', async () => {
    const r = await inPage(`const u8 = new Uint8Array(256).map((_, i) => 255 - i);
        servConn._socket.emit('writeFile', 'vis', 'sio/up.bin', u8, {}, e1 =>
            servConn._socket.emit('writeFile', 'vis', 'sio/up2.bin', u8.buffer.slice(10, 20), {}, e2 => done([e1, e2])))`);
    assert.deepEqual(r, [null, null]);
    const [e1, d1] = await peer.call('readFile', 'vis', 'sio/up.bin');
    assert.equal(e1, null);
    assert.deepEqual([...Buffer.from(d1)], Array.from({ length: 256 }, (_, i) => 255 - i));
    const [e2, d2] = await peer.call('readFile', 'vis', 'sio/up2.bin');
    assert.equal(e2, null);
    assert.deepEqual([...Buffer.from(d2)], Array.from({ length: 10 }, (_, i) => 245 - i));
});

test('readFile64 and readDir through conn.js', async () => {
    const [err, data] = await inPage('servConn.readFile64("/vis/sio/test.txt", (e, d) => done([e, d]))');
    assert.equal(err, null);
    assert.equal(Buffer.from(data.data, 'base64').toString('utf8'), 'hello from the page — ü €\n');
    const [derr, list] = await inPage('servConn.readDir("/vis/sio", (e, d) => done([e, d]))');
    assert.equal(derr, null);
    const names = list.map(f => f.file).sort();
    for (const n of ['img.png', 'test.txt', 'up.bin', 'up2.bin']) assert.ok(names.includes(n), `${n} listed`);
});

test('no page errors', () => {
    assert.deepEqual(page.errors, []);
});
