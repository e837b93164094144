'use strict';
// The socket.io-client API surface of web/socketio/socket.io.js against brokerd, scenario by scenario,
// each run with our library and with socket.io-client 4's browser bundle (the behaviour we imitate);
// the event sequences must agree (plus the 2.x extras ours adds on purpose, checked separately).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const h = require('./lib/harness');
const { record, normalize } = require('./lib/record');

let srv, pages, browser, peer;
const LIBS = ['ours', 'ref'];

async function open(lib) {
    const page = await h.newPage(browser);
    await page.goto(`${pages.url}/bare.html?lib=${lib}`);
    assert.equal(await page.evaluate(() => io.brokerd === true), lib === 'ours');
    return page;
}
const events = page => page.evaluate(() => ev.slice());
const until = (page, fn, arg, what) => page.waitForFunction(fn, arg, { timeout: h.TIMEOUT }).catch(async e => {
    const ev = await page.evaluate(() => window.ev).catch(() => null);
    throw new Error(`${what}: ${e.message.split('\n')[0]}; events: ${JSON.stringify(ev)}`);
});

before(async () => ({ srv, peer, pages, browser } = await h.setUp({ peer: true })));
after(() => h.stopAll(peer, browser, pages, srv));

test('emits made before connect are queued; acks, ids, connected flags, engine transport', async () => {
    const got = {};
    for (const lib of LIBS) {
        const page = await open(lib);
        got[lib] = await page.evaluate(() => new Promise(done => {
            const s = io(BROKERD, { transports: ['websocket'] });
            const log = [];
            const before = { connected: s.connected, disconnected: s.disconnected, id: s.id };
            s.on('connect', () => log.push('connect'));
            s.emit('getStates', ['sio.0.lamp'], (err, states) => {
                log.push('ack');
                done({ log, before, err, lamp: states['sio.0.lamp'].val, connected: s.connected, disconnected: s.disconnected,
                    id: typeof s.id, transport: s.io.engine.transport.name });
            });
        }));
        assert.deepEqual(page.errors, [], lib);
        await page.context().close();
    }
    assert.deepEqual(got.ours, {
        log: ['connect', 'ack'], before: { connected: false, disconnected: true, id: undefined }, err: null, lamp: true,
        connected: true, disconnected: false, id: 'string', transport: 'websocket',
    });
    assert.deepEqual(got.ours, got.ref);
});

test('url forms, opts.path and opts.query (object and string)', async () => {
    const page = await open('ours');
    const r = await page.evaluate(async () => {
        const u = new URL(BROKERD);
        const tries = {
            absolute: [BROKERD, {}],
            absoluteSlash: [BROKERD + '/', { path: '/socket.io/' }],
            hostOnly: [u.host, {}],
            protoRelative: ['//' + u.host, { query: { key: 'nokey', a: 'b c' } }],
            connectAlias: [BROKERD, { query: 'key=nokey&x=1', 'reconnection limit': 10000, 'max reconnection attempts': Infinity, reconnection: false }],
        };
        const out = {};
        for (const [name, [url, opts]] of Object.entries(tries)) {
            const s = (name === 'connectAlias' ? io.connect : io)(url, Object.assign({ forceNew: true }, opts));
            out[name] = await new Promise(done => {
                s.on('connect', () => s.emit('getVersion', (...a) => done('ok:' + (a[0] === null))));
                s.on('connect_error', e => done('error:' + e.message));
            });
            s.disconnect();
        }
        // a wrong path never reaches the Engine.IO endpoint
        const bad = io(BROKERD, { path: '/nope', forceNew: true, reconnection: false, timeout: 2000 });
        out.badPath = await new Promise(done => bad.on('connect_error', e => done('error:' + e.message)));
        out.reconnectionOpt = [io(BROKERD, { autoConnect: false, 'reconnection delay': 123, 'reconnection limit': 456, 'max reconnection attempts': 7 }).io]
            .map(m => [m.reconnection(), m.reconnectionDelay(), m.reconnectionDelayMax(), m.reconnectionAttempts()])[0];
        return out;
    });
    assert.deepEqual(r, {
        absolute: 'ok:true', absoluteSlash: 'ok:true', hostOnly: 'ok:true', protoRelative: 'ok:true', connectAlias: 'ok:true',
        badPath: 'error:websocket error', reconnectionOpt: [true, 123, 456, 7],
    });
    await page.context().close();
});

test('server events: on, once, off, onAny; ack callbacks fire once', async () => {
    const got = {};
    for (const lib of LIBS) {
        const page = await open(lib);
        await page.evaluate(record, { opts: { forceNew: true } });
        await until(page, () => s.connected, null, `${lib} connect`);
        await page.evaluate(() => new Promise(done => {
            window.counts = { on: 0, once: 0, off: 0, any: 0, vals: [] };
            const offMe = () => counts.off++;
            s.on('stateChange', (id, st) => {
                counts.on++;
                counts.vals.push(st.val);
            });
            s.once('stateChange', () => counts.once++);
            s.on('stateChange', offMe);
            s.off('stateChange', offMe);
            s.onAny(ev => ev === 'stateChange' && counts.any++);
            s.emit('subscribe', 'sio.0.temp', () => done());
        }));
        for (const v of [1, 2, 3]) await peer.call('setState', 'sio.0.temp', { val: v, ack: true });
        await until(page, () => counts.on === 3, null, `${lib} 3 updates`);
        got[lib] = await page.evaluate(() => {
            s.removeAllListeners('stateChange');
            return counts;
        });
        await page.evaluate(() => s.emit('unsubscribe', 'sio.0.temp'));
        assert.deepEqual(page.errors, [], lib);
        await page.context().close();
    }
    assert.deepEqual(got.ours, { on: 3, once: 1, off: 0, any: 3, vals: [1, 2, 3] });
    assert.deepEqual(got.ours, got.ref);
});

test('disconnect() by the page: reason "io client disconnect", no reconnect; connect() opens again', async () => {
    const got = {};
    for (const lib of LIBS) {
        const page = await open(lib);
        await page.evaluate(record, { opts: { forceNew: true, reconnectionDelay: 100 } });
        await until(page, () => s.connected, null, `${lib} connect`);
        const id1 = await page.evaluate(() => s.id);
        await page.evaluate(() => s.disconnect());
        await h.sleep(600);
        const mid = await page.evaluate(() => ({ connected: s.connected, disconnected: s.disconnected, id: s.id }));
        await page.evaluate(() => s.connect());
        await until(page, () => s.connected, null, `${lib} connect again`);
        const id2 = await page.evaluate(() => s.id);
        got[lib] = { ev: await events(page), mid, newId: id1 !== id2 };
        assert.deepEqual(page.errors, [], lib);
        await page.context().close();
    }
    assert.deepEqual(got.ours, {
        ev: ['connect', 'disconnect:io client disconnect', 'connect'],
        mid: { connected: false, disconnected: true, id: undefined }, newId: true,
    });
    assert.deepEqual(got.ours, got.ref);
});

test('brokerd restart: disconnect "transport close", reconnect attempts, reconnect(n), connect; queued emit delivered', async () => {
    const got = {};
    for (const lib of LIBS) {
        const page = await open(lib);
        await page.evaluate(record, { opts: { forceNew: true, reconnectionDelay: 200, reconnectionDelayMax: 400 } });
        if (lib === 'ours') await page.evaluate(() => s.on('reconnect', n => ev.push('socket reconnect:' + n)));
        await until(page, () => s.connected, null, `${lib} connect`);
        await srv.down('SIGKILL'); // SIGTERM may send a namespace DISCONNECT first (see reconnect.test.js)
        await until(page, () => ev.includes('reconnect_error'), null, `${lib} failed attempt`);
        await page.evaluate(() => s.emit('getStates', ['sio.0.lamp'], (err, st) => (window.queued = [err, st['sio.0.lamp'].val])));
        await srv.up();
        await until(page, () => window.queued, null, `${lib} queued emit answered`);
        assert.deepEqual(await page.evaluate(() => window.queued), [null, true]);
        const ev = await events(page);
        got[lib] = normalize(ev.filter(e => !e.startsWith('socket ')));
        if (lib === 'ours') {
            // 2.x style: the socket hears "reconnect" too, with the same attempt number as the manager
            const m = ev.find(e => e.startsWith('reconnect:'));
            assert.ok(ev.includes('socket ' + m), `socket reconnect event (${ev})`);
        }
        await page.context().close();
    }
    peer = await h.nodeClient(srv.url); // the old peer died with brokerd
    assert.deepEqual(got.ours, ['connect', 'disconnect:transport close', 'reconnect_attempt', 'connect_error:…', 'reconnect_error',
        'reconnect_attempt', 'reconnect', 'connect']);
    assert.deepEqual(got.ours, got.ref);
});

test('reconnectionAttempts exhausted → reconnect_failed; reconnection:false → one connect_error', async () => {
    const dead = await new Promise(r => {
        const s = net.createServer().listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => r(`http://127.0.0.1:${port}`));
        });
    });
    const got = {};
    for (const lib of LIBS) {
        const page = await open(lib);
        await page.evaluate(record, { url: dead, opts: { forceNew: true, reconnectionAttempts: 2, reconnectionDelay: 50, reconnectionDelayMax: 100 } });
        await until(page, () => ev.includes('reconnect_failed'), null, `${lib} reconnect_failed`);
        await h.sleep(300);
        const a = await events(page);
        await page.evaluate(record, { url: dead, opts: { forceNew: true, reconnection: false } });
        await h.sleep(500);
        got[lib] = { attempts: a, noReconnect: await events(page) };
        await page.context().close();
    }
    assert.deepEqual(got.ours, {
        attempts: ['connect_error:websocket error', 'reconnect_attempt:1', 'connect_error:websocket error', 'reconnect_error',
            'reconnect_attempt:2', 'connect_error:websocket error', 'reconnect_failed', 'reconnect_error'],
        noReconnect: ['connect_error:websocket error'],
    });
    assert.deepEqual(got.ours, got.ref);
});
