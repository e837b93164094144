'use strict';
// Test harness: the server under test (real brokerd binary, or the Node mock with
// WEB_TEST_SERVER=mock), headless Debian chromium via playwright-core, and a Node
// socket.io-client v4 as "another client".

const path = require('node:path');
const { chromium } = require('playwright-core');
const { io } = require('socket.io-client');
const common = require('../../testlib/harness'); // shared with web/socketio/test

const CALL_TIMEOUT = Number(process.env.WEB_TEST_CALL_TIMEOUT_MS) || 5000;
const START_TIMEOUT = Number(process.env.WEB_TEST_START_TIMEOUT_MS) || 15000;
const SCREENSHOT_DIR = path.resolve(__dirname, '..', '..', '..', 'screenshots');
const { sleep, withTimeout, stopAll } = common;

/**
 * startServer({auth}) → {url, stop(), restart(), down(), up(), kind}. Real brokerd (BROKERD_BIN) unless
 * WEB_TEST_SERVER=mock. With auth the user "tester"/"pw" (group administrator) exists.
 */
async function startServer({ auth = false } = {}) {
    if (process.env.WEB_TEST_SERVER === 'mock') return startMock(auth);
    const bin = process.env.BROKERD_BIN;
    if (!bin) throw new Error('BROKERD_BIN is not set (or set WEB_TEST_SERVER=mock)');
    const b = await common.startBrokerd({ bin, auth, tmpPrefix: 'brokerd-web-', startTimeout: START_TIMEOUT,
        showLog: () => process.env.WEB_TEST_SERVER_LOG });
    if (!process.env.WEB_TEST_FRONT) return b;
    // development only: web files from disk in front of a brokerd that does not serve them yet
    const front = await require('./front').start(b.url);
    return { ...b, kind: 'brokerd+front', brokerdUrl: b.url, url: front.url, stop: async () => {
        await front.stop();
        await b.stop();
    } };
}

async function startMock(auth) {
    const mock = require('./mockserver');
    const users = { tester: 'pw' };
    let srv = await mock.start({ auth, users });
    const h = {
        kind: 'mock',
        url: srv.url,
        stop: () => srv.stop(),
        restart: async () => {
            await srv.stop();
            srv = await mock.start({ auth, users, port: srv.port, data: srv.data });
        },
        down: () => srv.stop(),
        up: async () => {
            srv = await mock.start({ auth, users, port: srv.port, data: srv.data });
        },
    };
    return h;
}

const launchBrowser = () => common.launchBrowser(chromium, 'web/test/run.sh');

/** newPage(browser, {width, height}) → page; page.errors: uncaught errors and console errors. */
const newPage = (browser, viewport = { width: 1280, height: 800 }) => common.newPage(browser, {
    context: { viewport, deviceScaleFactor: 1 },
    consoleErrors: true,
    echoConsole: () => process.env.WEB_TEST_CONSOLE,
});

/** Node socket.io-client v4 ("another client"); query e.g. {user, pass} with auth on. */
const nodeClient = (url, query) => common.nodeClient(io, url, query, CALL_TIMEOUT);

/** waitEvent(sock, name, pred) resolves with the args of the first matching event. */
const waitEvent = (sock, name, pred, ms = CALL_TIMEOUT) => common.waitEvent(sock, name, pred, ms);

/**
 * setUp({auth, other, page}) → {srv, browser, other, page}: the server, the browser, with other a Node
 * client that seeded the objects (seed), with page the dashboard at / connected.
 */
function setUp({ auth = false, other = false, page = false } = {}) {
    return common.startAll([
        ['srv', () => startServer({ auth })],
        ['browser', () => launchBrowser()],
        other && ['other', async e => {
            const c = await nodeClient(e.srv.url);
            await seed(c);
            return c;
        }],
        page && ['page', async e => {
            const p = await newPage(e.browser);
            await p.goto(e.srv.url + '/');
            await p.waitForSelector('#conn.on', { timeout: CALL_TIMEOUT });
            return p;
        }],
    ]);
}

/** Objects the tests need: a file namespace and a few state objects under web.0. */
async function seed(client) {
    await client.call('setObject', 'web.0', { type: 'meta', common: { name: 'web test files', type: 'meta.user' }, native: {} });
    await client.call('setObject', 'web.0.lights', { type: 'channel', common: { name: 'Lights' }, native: {} });
    const states = [
        ['web.0.lights.kitchen', 'Kitchen light', 'boolean', true],
        ['web.0.lights.living', 'Living room light', 'boolean', false],
        ['web.0.temperature', 'Temperature', 'number', 21.5],
        ['web.0.message', 'Message', 'string', 'hello'],
    ];
    for (const [id, name, type, val] of states) {
        await client.call('setObject', id, { type: 'state', common: { name, type, role: 'state', read: true, write: true }, native: {} });
        await client.call('setState', id, { val, ack: true });
    }
}

module.exports = { startServer, launchBrowser, newPage, nodeClient, waitEvent, withTimeout, seed, sleep, setUp, stopAll, CALL_TIMEOUT, SCREENSHOT_DIR };
