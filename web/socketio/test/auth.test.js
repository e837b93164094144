'use strict';
// auth.enabled: refusals ("44{message}") reach the page as connect_error (Error) and error (string);
// conn.js with a wrong user/pass in its query gets 'Invalid password or user name' in onAuthError.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');
const { record } = require('./lib/record');

const REFUSED = 'Invalid password or user name';
// brokerd locks 127.0.0.1 out after 5 failed logins: the tests below make 4 (conn.js 1, API 2, opts.auth 1).
let srv, pages, browser;

before(async () => ({ srv, pages, browser } = await h.setUp({ auth: true })));
after(() => h.stopAll(browser, pages, srv));

test('conn.js with a wrong password in the query: the error event reaches onAuthError', async () => {
    const page = await h.newPage(browser);
    // conn.js builds its query as 'key=' + socketSession. It also starts its reconnect timer on
    // connect_error; a long interval keeps it from retrying (and failing again) during the test.
    await page.goto(pages.url + '/conn.html?reconnect=60000&session=' + encodeURIComponent('nokey&user=tester&pass=wrong'));
    await page.waitForFunction(() => events.some(e => e[0] === 'authError'), null, { timeout: h.TIMEOUT });
    await h.sleep(1500); // nothing else follows: no reconnect loop, no onConnChange(true)
    const r = await page.evaluate(() => ({ events, connected: servConn.getIsConnected(), authError: servConn.authError }));
    assert.deepEqual(r.events, [['authError', REFUSED]]);
    assert.equal(r.connected, false);
    assert.equal(r.authError, true);
    assert.deepEqual(page.errors, []);
    await page.context().close();
});

test('conn.js with the right password in the query connects as that user', async () => {
    const page = await h.newPage(browser);
    await page.goto(pages.url + '/conn.html?session=' + encodeURIComponent('nokey&user=tester&pass=pw'));
    await page.waitForFunction(() => events.some(e => e[0] === 'conn' && e[1] === true), null, { timeout: h.TIMEOUT });
    const r = await page.evaluate(() => ({ user: servConn.getUser(), events }));
    assert.deepEqual(r, { user: 'tester', events: [['conn', true]] });
    assert.deepEqual(page.errors, []);
    await page.context().close();
});

test('refusal as seen by the API: connect_error(Error) + error(string), pre-connect events dropped, no retry', async () => {
    const got = {};
    for (const lib of ['ours', 'ref']) {
        const page = await h.newPage(browser);
        await page.goto(`${pages.url}/bare.html?lib=${lib}`);
        await page.evaluate(record, { opts: { forceNew: true, query: { user: 'tester', pass: 'wrong' }, reconnectionDelay: 100 } });
        await page.evaluate(() => s.on('reauthenticate', () => ev.push('reauthenticate')));
        await page.waitForFunction(() => ev.length > 0, null, { timeout: h.TIMEOUT });
        await h.sleep(1000);
        got[lib] = await page.evaluate(() => ({ ev, connected: s.connected, active: s.active }));
        await page.context().close();
    }
    // socket.io-client 2.x delivered the refusal as "error"; 4.x as connect_error: ours does both
    assert.deepEqual(got.ours, { ev: ['connect_error:' + REFUSED, 'error:' + REFUSED], connected: false, active: false });
    assert.deepEqual(got.ref, { ev: ['connect_error:' + REFUSED], connected: false, active: false });
});

test('credentials in opts.auth (EIO4 CONNECT payload)', async () => {
    const page = await h.newPage(browser);
    await page.goto(`${pages.url}/bare.html?lib=ours`);
    const r = await page.evaluate(async () => {
        const attempt = auth => new Promise(done => {
            const s = io(BROKERD, { forceNew: true, reconnection: false, auth });
            s.on('connect', () => s.emit('authEnabled', (enabled, user) => {
                done(`connected:${enabled}:${user}`);
                s.disconnect();
            }));
            s.on('connect_error', e => done('refused:' + e.message));
        });
        return {
            right: await attempt({ user: 'tester', pass: 'pw' }),
            wrong: await attempt({ user: 'tester', pass: 'nope' }),
            fn: await attempt(cb => cb({ user: 'tester', pass: 'pw' })),
        };
    });
    assert.equal(r.right, 'connected:true:tester');
    assert.match(r.wrong, /^refused:/);
    assert.equal(r.fn, 'connected:true:tester');
    await page.context().close();
});
