'use strict';
// conn.js against a server that never answers some commands: every callback still returns.
// brokerd answers every command (even unknown ones), so this uses a minimal socket.io v4 server
// that serves conn.js and acks only the connect sequence (authenticate, authEnabled).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { Server } = require('socket.io');
const h = require('./lib/harness');

let httpSrv;
let io;
let url;
let browser;
let page;

before(async () => {
    httpSrv = http.createServer((req, res) => {
        if (req.url === '/conn.js') {
            res.writeHead(200, { 'Content-Type': 'application/javascript' });
            return res.end(fs.readFileSync(path.join(__dirname, '..', 'conn.js')));
        }
        if (req.url.startsWith('/socket.io/')) return;
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<!doctype html><link rel="icon" href="data:,"><title>silent</title><script src="/conn.js"></script>');
    });
    // Heartbeats fast enough to matter within the test, with slack for a loaded CI machine.
    io = new Server(httpSrv, { pingInterval: 1000, pingTimeout: 2500 });
    io.on('connection', s => {
        s.on('authenticate', cb => cb(true, null));
        s.on('authEnabled', cb => cb(false, 'admin'));
    });
    await new Promise(r => httpSrv.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${httpSrv.address().port}`;
    browser = await h.launchBrowser();
    page = await h.newPage(browser);
    await page.goto(url + '/');
    await page.evaluate(() => servConn.init({ name: 't', timeout: 300 }, { onConnChange: c => (window.conn = c) }, false, false));
    await page.waitForFunction(() => window.conn === true, null, { timeout: h.CALL_TIMEOUT });
});

after(async () => {
    await browser?.close();
    io?.close();
    httpSrv?.closeAllConnections?.();
});

test('answers the server\'s pings (Engine.IO v4 heartbeat) and stays connected', async () => {
    let disconnects = 0;
    for (const s of io.sockets.sockets.values()) s.on('disconnect', () => disconnects++);
    await h.sleep(5000); // several ping intervals; a client that did not answer would be dropped after 3.5 s
    assert.equal(disconnects, 0);
    assert.equal(await page.evaluate(() => servConn.getIsConnected()), true);
});

test('an unanswered command fails with "timeout" after connOptions.timeout', async () => {
    const r = await page.evaluate(() => new Promise(done => {
        const t0 = Date.now();
        servConn.getStates(['a.b'], err => done({ err, ms: Date.now() - t0 }));
    }));
    assert.equal(r.err, 'timeout');
    assert.ok(r.ms >= 250, `failed after ${r.ms} ms, before the timeout`);
});

test('every callback shape gets the timeout', async () => {
    const r = await page.evaluate(() => new Promise(done => {
        const out = {};
        let left = 6;
        const fin = () => --left || done(out);
        servConn.sendTo('x.0', 'cmd', {}, res => ((out.sendTo = res), fin()));
        servConn.readFile('/vis.0/a.txt', (err, data, name) => ((out.readFile = [err, data, name]), fin()));
        servConn.getObject('a.b', err => ((out.getObject = err), fin()));
        servConn.getVersion(v => ((out.getVersion = v), fin()));
        servConn.command('anything', [1], (...a) => ((out.command = a), fin()));
        servConn.getHistory('a.b', { timeout: 200 }, err => ((out.getHistory = err), fin()));
    }));
    assert.deepEqual(r, {
        sendTo: { error: 'timeout' },
        readFile: ['timeout', null, 'a.txt'],
        getObject: 'timeout',
        getVersion: 'timeout',
        command: ['timeout'],
        getHistory: 'timeout',
    });
});

test('commands in flight fail with "notConnectedError" as soon as the connection drops', async () => {
    const r = await page.evaluate(() => new Promise(done => {
        servConn._connOptions.timeout = 30000;
        const t0 = Date.now();
        servConn.getStates(['a.b'], err => done({ err, ms: Date.now() - t0 }));
        setTimeout(() => servConn.disconnect(), 50);
    }));
    assert.equal(r.err, 'notConnectedError');
    assert.ok(r.ms < 5000);
    assert.equal(await page.evaluate(() => window.conn), false);
});

test('with queueWhileDisconnected:false commands fail at once while disconnected', async () => {
    const r = await page.evaluate(() => new Promise(done => {
        servConn._connOptions.queueWhileDisconnected = false;
        servConn.getStates(['a.b'], err => done(err));
    }));
    assert.equal(r, 'notConnectedError');
    assert.deepEqual(page.errors, []);
});
