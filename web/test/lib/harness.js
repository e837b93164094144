'use strict';
// Test harness: the server under test (real brokerd binary, or the Node mock with
// WEB_TEST_SERVER=mock), headless Debian chromium via playwright-core, and a Node
// socket.io-client v4 as "another client".

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const http = require('node:http');
const { chromium } = require('playwright-core');
const { io } = require('socket.io-client');

const CALL_TIMEOUT = Number(process.env.WEB_TEST_CALL_TIMEOUT_MS) || 5000;
const START_TIMEOUT = Number(process.env.WEB_TEST_START_TIMEOUT_MS) || 15000;
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
    '--no-first-run', '--disable-component-update', '--disable-sync'];
const SCREENSHOT_DIR = path.resolve(__dirname, '..', '..', '..', 'screenshots');

const sleep = ms => new Promise(r => setTimeout(r, ms));

function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.on('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

function httpGet(url, timeout = 1000) {
    return new Promise((resolve, reject) => {
        const req = http.get(url, { timeout }, res => {
            res.resume();
            res.on('end', () => resolve(res.statusCode));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
    });
}

/** withTimeout rejects when p does not settle within ms. */
function withTimeout(p, ms, what) {
    let t;
    return Promise.race([p, new Promise((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: no answer within ${ms} ms`)), ms)))])
        .finally(() => clearTimeout(t));
}

/**
 * startServer({auth}) → {url, stop(), restart(), kind}. Real brokerd (BROKERD_BIN) unless
 * WEB_TEST_SERVER=mock. With auth the user "tester"/"pw" (group administrator) exists.
 */
async function startServer({ auth = false } = {}) {
    if (process.env.WEB_TEST_SERVER === 'mock') return startMock(auth);
    const bin = process.env.BROKERD_BIN;
    if (!bin) throw new Error('BROKERD_BIN is not set (or set WEB_TEST_SERVER=mock)');
    const b = await startBrokerd(bin, auth);
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

async function startBrokerd(bin, auth) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brokerd-web-'));
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(dataDir);
    const port = await freePort();
    const cfg = path.join(dir, 'config.yaml');
    fs.writeFileSync(cfg, [`listen: "127.0.0.1:${port}"`, `data_dir: ${JSON.stringify(dataDir)}`, 'auth:', `  enabled: ${auth}`, ''].join('\n'));
    if (auth) {
        execFileSync(bin, ['user', 'add', 'tester', '--password', 'pw', '--group', 'administrator', '--config', cfg], { stdio: 'pipe' });
    }
    const url = `http://127.0.0.1:${port}`;
    let child = null;
    let output = '';
    let exited = null;

    const up = async () => {
        exited = null;
        child = spawn(bin, ['serve', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
        const keep = d => {
            output = (output + d.toString()).slice(-20000);
        };
        child.stdout.on('data', keep);
        child.stderr.on('data', keep);
        child.on('exit', (code, signal) => (exited = { code, signal }));
        const deadline = Date.now() + START_TIMEOUT;
        for (;;) {
            if (exited) throw new Error(`brokerd exited early (${JSON.stringify(exited)}):\n${output}`);
            try {
                if ((await httpGet(`${url}/healthz`)) === 200) break;
            } catch { /* not up yet */ }
            if (Date.now() > deadline) throw new Error(`brokerd did not start within ${START_TIMEOUT} ms:\n${output}`);
            await sleep(100);
        }
    };
    const down = async () => {
        if (!child || exited) return;
        const gone = new Promise(r => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(t);
    };
    process.on('exit', () => child && !exited && child.kill('SIGKILL'));
    await up();
    return {
        kind: 'brokerd',
        url,
        down,
        up,
        restart: async () => {
            await down();
            await up();
        },
        stop: async () => {
            await down();
            if (process.env.WEB_TEST_SERVER_LOG) process.stderr.write(`--- brokerd output ---\n${output}\n`);
            fs.rmSync(dir, { recursive: true, force: true });
        },
        log: () => output,
    };
}

async function launchBrowser() {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run web/test/run.sh (installs Debian's chromium)`);
    return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** newPage(browser, {width, height}) → page that records console errors in page.errors. */
async function newPage(browser, viewport = { width: 1280, height: 800 }) {
    const ctx = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    const page = await ctx.newPage();
    page.errors = [];
    page.on('pageerror', e => page.errors.push(String(e)));
    page.on('console', m => {
        if (m.type() === 'error') page.errors.push(m.text());
        if (process.env.WEB_TEST_CONSOLE) process.stderr.write(`[page ${m.type()}] ${m.text()}\n`);
    });
    return page;
}

/** Node socket.io-client v4 ("another client"); query e.g. {user, pass} with auth on. */
async function nodeClient(url, query) {
    const sock = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, query });
    await withTimeout(new Promise((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('connect_error', reject);
    }), CALL_TIMEOUT, 'node client connect');
    sock.call = (name, ...args) => withTimeout(new Promise(resolve => sock.emit(name, ...args, (...res) => resolve(res))), CALL_TIMEOUT, name);
    return sock;
}

/** waitEvent(sock, name, pred) resolves with the args of the first matching event. */
function waitEvent(sock, name, pred, ms = CALL_TIMEOUT) {
    let handler;
    return withTimeout(new Promise(resolve => {
        handler = (...args) => {
            if (!pred || pred(...args)) resolve(args);
        };
        sock.on(name, handler);
    }), ms, `event ${name}`).finally(() => sock.off(name, handler));
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

module.exports = { startServer, launchBrowser, newPage, nodeClient, waitEvent, withTimeout, seed, sleep, CALL_TIMEOUT, SCREENSHOT_DIR };
