'use strict';
// conn.js speaking Socket.IO itself (no window.io on the page) and the dashboard at /.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

let srv, browser, page, other;

before(async () => ({ srv, browser, other, page } = await h.setUp({ other: true, page: true })));
after(() => h.stopAll(other, browser, srv));

test('GET /conn.js serves the servConn script', async () => {
    // asked of brokerd itself, also when lib/front.js serves the page (WEB_TEST_FRONT)
    const res = await fetch((srv.brokerdUrl || srv.url) + '/conn.js');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') || '', /javascript/);
    assert.match(await res.text(), /servConn/);
});

test('connects with its own Socket.IO client', async () => {
    const info = await page.evaluate(() => ({ io: typeof window.io, transport: servConn._transport, connected: servConn.getIsConnected() }));
    assert.deepEqual(info, { io: 'undefined', transport: 'native', connected: true });
    assert.equal(await page.textContent('#conn-text'), 'connected');
});

test('getStates by id list and by pattern', async () => {
    const res = await page.evaluate(() => new Promise(r => servConn.getStates(['web.0.temperature', 'web.0.nothing'], (err, s) => r({ err, s }))));
    assert.equal(res.err, null);
    assert.equal(res.s['web.0.temperature'].val, 21.5);
    assert.equal(res.s['web.0.temperature'].ack, true);
    assert.equal(res.s['web.0.nothing'], null);
    const byPattern = await page.evaluate(() => new Promise(r => servConn.getStates('web.0.lights.*', (err, s) => r(Object.keys(s || {}).sort()))));
    assert.deepEqual(byPattern, ['web.0.lights.kitchen', 'web.0.lights.living']);
});

test('the dashboard lists states with value and ack', async () => {
    const row = page.locator('#states tr[data-id="web.0.temperature"]');
    await row.waitFor({ timeout: h.CALL_TIMEOUT });
    assert.equal(await row.locator('.val').textContent(), '21.5');
    assert.equal(await row.locator('.ack').textContent(), 'ack');
});

test('a value set by another client appears on screen within a second', async () => {
    await page.fill('#filter', 'web.0.*');
    await page.click('#filter-form button');
    await page.locator('#states tr[data-id="web.0.message"]').waitFor({ timeout: h.CALL_TIMEOUT });
    const [err] = await other.call('setState', 'web.0.message', { val: 'from node', ack: true });
    assert.equal(err, null);
    await page.waitForFunction(() => document.querySelector('#states tr[data-id="web.0.message"] .val')?.textContent === 'from node', null, { timeout: 1000 });
    // a state without object shows up as a new row when it matches the filter
    await other.call('setState', 'web.0.fresh', 7);
    await page.waitForFunction(() => document.querySelector('#states tr[data-id="web.0.fresh"] .val')?.textContent === '7', null, { timeout: 1000 });
    assert.equal(await page.textContent('#states tr[data-id="web.0.fresh"] .ack'), 'cmd');
});

test('setState from the page (ack=false) reaches a Node socket.io client', async () => {
    await other.call('subscribe', 'web.0.lights.*');
    const got = h.waitEvent(other, 'stateChange', (id, st) => id === 'web.0.lights.living' && st && st.val === true);
    await page.fill('#set-id', 'web.0.lights.living');
    await page.fill('#set-val', 'true');
    await page.click('#set-form button');
    const [, st] = await got;
    assert.equal(st.ack, false);
    await page.waitForFunction(() => document.querySelector('#states-info').textContent.startsWith('Wrote'), null, { timeout: h.CALL_TIMEOUT });
    // servConn.setState with a callback
    const err = await page.evaluate(() => new Promise(r => servConn.setState('web.0.temperature', 22, e => r(e))));
    assert.equal(err, null);
    const [, st2] = await other.call('getState', 'web.0.temperature');
    assert.equal(st2.val, 22);
    assert.equal(st2.ack, false);
});

test('text file write and read (writeFile/readFile/readDir)', async () => {
    const res = await page.evaluate(() => new Promise(r => servConn.writeFile('/web.0/notes/a.txt', 'hello wörld', werr =>
        servConn.readFile('/web.0/notes/a.txt', (err, data, name, mime) =>
            servConn.readDir('/web.0/notes', (derr, list) => r({ werr, err, data, name, mime, derr, files: (list || []).map(e => e.file) }))))));
    assert.equal(res.werr, null);
    assert.equal(res.err, null);
    assert.equal(res.data, 'hello wörld');
    assert.equal(res.name, 'notes/a.txt');
    assert.match(res.mime, /^text\/plain/);
    assert.equal(res.derr, null);
    assert.deepEqual(res.files, ['a.txt']);
    const [err, data] = await other.call('readFile', 'web.0', 'notes/a.txt');
    assert.equal(err, null);
    assert.equal(String(data), 'hello wörld');
});

test('binary file write and read as attachments (ArrayBuffer / Uint8Array)', async () => {
    const bytes = [0, 1, 2, 127, 128, 254, 255, 10, 13];
    const res = await page.evaluate(b => new Promise(r => servConn.writeFile('/web.0/bin/x.bin', new Uint8Array(b), werr =>
        servConn.readFile('/web.0/bin/x.bin', (err, data, name, mime) =>
            r({ werr, err, isAB: data instanceof ArrayBuffer, bytes: Array.from(new Uint8Array(data || new ArrayBuffer(0))), mime })))), bytes);
    assert.equal(res.werr, null);
    assert.equal(res.err, null);
    assert.equal(res.isAB, true);
    assert.deepEqual(res.bytes, bytes);
    assert.equal(res.mime, 'application/octet-stream');
    const [err, data] = await other.call('readFile', 'web.0', 'bin/x.bin');
    assert.equal(err, null);
    assert.deepEqual([...data], bytes);
    // readFile64 of the same file
    const b64 = await page.evaluate(() => new Promise(r => servConn.readFile64('/web.0/bin/x.bin', (err, res) => r({ err, res }))));
    assert.equal(b64.err, null);
    assert.equal(b64.res.data, Buffer.from(bytes).toString('base64'));
});

test('the file browser shows namespaces, folders and file content', async () => {
    await page.click('.tabs button[data-tab="files"]');
    await page.click('#files .entry[data-name="web.0"]');
    await page.click('#files .entry[data-name="notes"]');
    await page.click('#files .entry[data-name="a.txt"]');
    await page.waitForFunction(() => document.querySelector('#file-view pre')?.textContent === 'hello wörld', null, { timeout: h.CALL_TIMEOUT });
    assert.equal(await page.getAttribute('#file-download', 'download'), 'a.txt');
    await page.click('#crumbs button:nth-of-type(2)');
    await page.click('#files .entry[data-name="bin"]');
    await page.click('#files .entry[data-name="x.bin"]');
    await page.waitForFunction(() => /Binary file, 9 B/.test(document.querySelector('#file-view').textContent), null, { timeout: h.CALL_TIMEOUT });
});

test('the object tree expands lazily and shows an object', async () => {
    await page.click('.tabs button[data-tab="objects"]');
    await page.click('#tree .node[data-id="web"]');
    await page.click('#tree .node[data-id="web.0"]');
    await page.click('#tree .node[data-id="web.0.lights"]');
    await page.click('#tree .node[data-id="web.0.lights.kitchen"]');
    await page.waitForFunction(() => /"Kitchen light"/.test(document.querySelector('#obj-detail').textContent), null, { timeout: h.CALL_TIMEOUT });
    await page.click('.tabs button[data-tab="states"]');
});

test('getObject, getObjects, getConfig, getVersion, authEnabled callback shapes', async () => {
    const r = await page.evaluate(() => new Promise(done => {
        const out = {};
        servConn.getObject('web.0.temperature', (err, obj) => {
            out.obj = { err, type: obj && obj.type };
            servConn.getObjects((err2, objs) => {
                out.objs = { err: err2, has: !!(objs && objs['web.0.temperature']) };
                servConn.getVersion(v => {
                    out.version = typeof v;
                    servConn.authEnabled((err3, enabled, user) => {
                        out.auth = { err: err3, enabled, user };
                        servConn.getConfig(err4 => {
                            out.config = typeof err4;
                            done(out);
                        });
                    });
                });
            });
        });
    }));
    assert.deepEqual(r.obj, { err: null, type: 'state' });
    assert.deepEqual(r.objs, { err: null, has: true });
    assert.equal(r.version, 'string');
    assert.deepEqual(r.auth, { err: null, enabled: false, user: 'admin' });
    assert.ok(['object', 'string'].includes(r.config)); // null, or "Cannot read language" without system.config
});

test('servConn.command and sendTo answer with the server\'s ack arguments', async () => {
    const res = await page.evaluate(() => new Promise(r => servConn.command('getVersion', [], (...args) => r(args))));
    assert.equal(res[0], null);
    assert.equal(typeof res[1], 'string');
    // sendTo keeps its non-err-first shape: the reply object (here an error: no such instance)
    const reply = await page.evaluate(() => new Promise(r => servConn.sendTo('nothing.0', 'ping', {}, result => r(result))));
    assert.equal(typeof reply, 'object');
    assert.ok(reply && reply.error, 'sendTo to a missing instance reports an error');
});

test('no errors in the page console', () => {
    assert.deepEqual(page.errors, []);
});
