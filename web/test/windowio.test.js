'use strict';
// conn.js on a page that already loaded a socket.io client library (window.io): it uses that.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const h = require('./lib/harness');

const BUNDLES = [
    { label: 'socket.io-client 4 (EIO4)', file: path.join(__dirname, 'node_modules', 'socket.io-client', 'dist', 'socket.io.min.js') },
    { label: 'socket.io-client 2.5 (EIO3, as shipped with ioBroker)', file: path.join(__dirname, 'node_modules', 'sio2', 'dist', 'socket.io.js') },
];

let srv, browser, other;

before(async () => ({ srv, browser, other } = await h.setUp({ other: true })));
after(() => h.stopAll(other, browser, srv));

for (const b of BUNDLES) {
    test(`uses window.io: ${b.label}`, async () => {
        const page = await h.newPage(browser);
        // a page of the server's origin that loads the library first, then conn.js (the document
        // itself is not intercepted: Chromium's local-network checks block WebSockets from such pages)
        await page.route('**/wio-lib.js', r => r.fulfill({ contentType: 'application/javascript', path: b.file }));
        await page.goto(srv.url + '/conn.js');
        await page.setContent('<!doctype html><title>t</title><script src="/wio-lib.js"></script><script src="/conn.js"></script>' +
            '<script>window.updates = [];servConn.init({name: "wio"}, {onConnChange: c => (window.conn = c), onUpdate: (id, s) => updates.push([id, s.val])}, false, false);</script>');
        await page.waitForFunction(() => window.conn === true, null, { timeout: h.CALL_TIMEOUT });
        assert.equal(await page.evaluate(() => servConn._transport), 'window.io');

        const states = await page.evaluate(() => new Promise(r => servConn.getStates(['web.0.temperature'], (e, s) => r({ e, s }))));
        assert.equal(states.e, null);
        assert.equal(typeof states.s['web.0.temperature'].val, 'number');

        await page.evaluate(() => new Promise(r => servConn.subscribe('web.0.message', r)));
        await other.call('setState', 'web.0.message', { val: 'via ' + b.label, ack: true });
        await page.waitForFunction(v => window.updates.some(u => u[1] === v), 'via ' + b.label, { timeout: h.CALL_TIMEOUT });

        await other.call('subscribe', 'web.0.lights.kitchen');
        const got = h.waitEvent(other, 'stateChange', (id, st) => id === 'web.0.lights.kitchen' && st.val === b.label);
        await page.evaluate(v => servConn.setState('web.0.lights.kitchen', v), b.label);
        assert.equal((await got)[1].ack, false);

        const bin = await page.evaluate(() => new Promise(r => servConn.writeFile('/web.0/wio/b.bin', new Uint8Array([1, 2, 3, 250]).buffer, werr =>
            servConn.readFile('/web.0/wio/b.bin', (err, data) => r({ werr, err, bytes: Array.from(new Uint8Array(data)) })))));
        assert.deepEqual(bin, { werr: null, err: null, bytes: [1, 2, 3, 250] });
        assert.deepEqual(page.errors, []);
        await page.context().close();
    });
}
