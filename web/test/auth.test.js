'use strict';
// auth.enabled: the page gets onAuthError, shows the login form, logs in with POST /login.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

let srv, browser, page;

before(async () => {
    ({ srv, browser } = await h.setUp({ auth: true }));
    page = await h.newPage(browser); // the tests open / themselves (the login form comes first)
});
after(() => h.stopAll(browser, srv));

test('without a session the connect is refused and onAuthError shows the login form', async () => {
    await page.goto(srv.url + '/');
    await page.waitForSelector('#login:not([hidden])', { timeout: h.CALL_TIMEOUT });
    assert.equal(await page.isVisible('#app'), false);
    assert.equal(await page.textContent('#conn-text'), 'login required');
    assert.equal(await page.evaluate(() => servConn.getIsConnected()), false);
    // commands do not wait for a login that may never come
    const err = await page.evaluate(() => new Promise(r => servConn.getStates(null, e => r(e))));
    assert.equal(err, 'notConnectedError');
});

test('a wrong password is reported on the form', async () => {
    await page.fill('#login-user', 'tester');
    await page.fill('#login-pass', 'wrong');
    await page.click('#login-form button');
    await page.waitForFunction(() => document.querySelector('#login-error').textContent !== '', null, { timeout: h.CALL_TIMEOUT });
    assert.match(await page.textContent('#login-error'), /invalid|password/i);
    assert.equal(await page.isVisible('#login'), true);
});

test('login sets the cookie and the page connects as that user', async () => {
    await page.fill('#login-pass', 'pw');
    await page.click('#login-form button');
    await page.waitForSelector('#conn.on', { timeout: h.CALL_TIMEOUT });
    assert.equal(await page.isVisible('#login'), false);
    assert.equal(await page.textContent('#user'), 'tester');
    const cookies = await page.context().cookies();
    const c = cookies.find(x => x.name === 'access_token');
    assert.ok(c, 'access_token cookie set');
    assert.equal(c.httpOnly, true);
    const r = await page.evaluate(() => new Promise(done => servConn.authEnabled((err, enabled, user) => done({ err, enabled, user }))));
    assert.deepEqual(r, { err: null, enabled: true, user: 'tester' });

    // another client with user/pass in the query writes; the page sees it
    const other = await h.nodeClient(srv.url, { user: 'tester', pass: 'pw' });
    try {
        await other.call('setObject', 'web.0.secure', { type: 'state', common: { name: 'secure', type: 'number' }, native: {} });
        await page.fill('#filter', 'web.0.*');
        await page.click('#filter-form button');
        await other.call('setState', 'web.0.secure', { val: 42, ack: true });
        await page.waitForFunction(() => document.querySelector('#states tr[data-id="web.0.secure"] .val')?.textContent === '42', null, { timeout: h.CALL_TIMEOUT });
    } finally {
        other.close();
    }
});

test('logout ends the session: after a reload the login form is back', async () => {
    await page.click('#logout');
    await page.waitForSelector('#login:not([hidden])', { timeout: h.CALL_TIMEOUT });
    const cookies = await page.context().cookies();
    assert.equal(cookies.find(x => x.name === 'access_token' && x.value), undefined);
});
