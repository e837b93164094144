'use strict';
// brokerd serves web/socketio/socket.io.js at /socket.io/socket.io.js and at any path containing
// "socket.io.js" (like the reference adapter). Skipped while brokerd does not serve it yet; with
// SIO_JS_FROM=brokerd it must.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const h = require('./lib/harness');

let srv;

before(async () => {
    srv = await h.startBrokerd();
});

after(() => h.stopAll(srv));

test('socket.io.js is served by brokerd, byte for byte, as JavaScript', async t => {
    const first = await h.get(`${srv.url}/socket.io/socket.io.js`);
    if (first.status !== 200 && process.env.SIO_JS_FROM !== 'brokerd') {
        t.skip(`brokerd answers ${first.status} for /socket.io/socket.io.js (not mounted yet)`);
        return;
    }
    const want = fs.readFileSync(h.LIB_FILE);
    for (const p of ['/socket.io/socket.io.js', '/vis/lib/js/socket.io.js', '/socket.io.js', '/lib/socket.io.js?v=2.5.0']) {
        const r = await h.get(srv.url + p);
        assert.equal(r.status, 200, p);
        assert.match(r.type, /^(application|text)\/javascript/, p);
        assert.ok(r.body.equals(want), `${p}: same bytes as web/socketio/socket.io.js`);
    }
});

test('the library file is self-contained ES2017 with its header', () => {
    const src = fs.readFileSync(h.LIB_FILE, 'utf8');
    assert.match(src.slice(0, 400), /brokerd's own implementation of the subset of the socket\.io-client API/);
    assert.doesNotMatch(src, /\brequire\(|\bimport\s|\bexport\s/, 'no module syntax, no dependencies');
    assert.doesNotMatch(src, /\?\.|\?\?|#\w+\s*[=;(]/, 'nothing newer than ES2017 (optional chaining, ??, private fields)');
    const lines = src.split('\n').length;
    assert.ok(lines < 700, `${lines} lines`);
});
