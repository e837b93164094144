'use strict';
// Test harness for web/socketio/socket.io.js: the real brokerd binary (BROKERD_BIN), a tiny Node
// static server for the test pages (another origin, like a vis page served by the web adapter),
// headless Debian chromium via playwright-core and a Node socket.io-client v4 as a peer client.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const http = require('node:http');
const { chromium } = require('playwright-core');
const { io } = require('socket.io-client');

const TIMEOUT = Number(process.env.SIO_TEST_TIMEOUT_MS) || 5000;
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
    '--no-first-run', '--disable-component-update', '--disable-sync'];
const LIB_FILE = path.resolve(__dirname, '..', '..', 'socket.io.js');
// ioBroker's own servConn, used unchanged
const CONN_JS = require.resolve('iobroker.socketio/example/conn.js');
// ioBroker's Connection.js (ES modules) as shipped in the same package
const SOCKET_CLIENT_DIR = path.join(path.dirname(CONN_JS), 'socket-client');
// socket.io-client 4's browser bundle: only for comparing behaviour in the tests, never shipped
const REF_JS = require.resolve('socket.io-client/dist/socket.io.js');

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

/** get(url) → {status, type, body(Buffer)} */
function get(url, timeout = 2000) {
    return new Promise((resolve, reject) => {
        const req = http.get(url, { timeout }, res => {
            const chunks = [];
            res.on('data', c => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'] || '', body: Buffer.concat(chunks) }));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
    });
}

function withTimeout(p, ms, what) {
    let t;
    return Promise.race([p, new Promise((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: nothing within ${ms} ms`)), ms)))])
        .finally(() => clearTimeout(t));
}

/** waitFor(fn) polls fn until it returns a truthy value. */
async function waitFor(fn, what, ms = TIMEOUT) {
    const deadline = Date.now() + ms;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
        await sleep(50);
    }
}

/**
 * startBrokerd({auth, config}) → {url, port, up(), down(), restart(), stop(), log()}; with auth the user
 * tester/pw exists; config: extra YAML lines.
 */
async function startBrokerd({ auth = false, config = [] } = {}) {
    const bin = process.env.BROKERD_BIN;
    if (!bin) throw new Error('BROKERD_BIN is not set (run web/socketio/test/run.sh)');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brokerd-sio-'));
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(dataDir);
    const port = await freePort();
    const cfg = path.join(dir, 'config.yaml');
    fs.writeFileSync(cfg, [`listen: "127.0.0.1:${port}"`, `data_dir: ${JSON.stringify(dataDir)}`, 'auth:', `  enabled: ${auth}`, ...config, ''].join('\n'));
    if (auth) execFileSync(bin, ['user', 'add', 'tester', '--password', 'pw', '--group', 'administrator', '--config', cfg], { stdio: 'pipe' });
    const url = `http://127.0.0.1:${port}`;
    let child = null;
    let exited = null;
    let output = '';
    const up = async () => {
        exited = null;
        child = spawn(bin, ['serve', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
        const keep = d => (output = (output + d).slice(-20000));
        child.stdout.on('data', keep);
        child.stderr.on('data', keep);
        child.on('exit', (code, signal) => (exited = { code, signal }));
        await waitFor(async () => {
            if (exited) throw new Error(`brokerd exited (${JSON.stringify(exited)}):\n${output}`);
            try {
                return (await get(`${url}/healthz`, 500)).status === 200;
            } catch {
                return false;
            }
        }, 'brokerd start', 15000);
    };
    // down('SIGKILL') drops every connection at once (reason "transport close" on the clients);
    // SIGTERM is brokerd's graceful shutdown.
    const down = async (signal = 'SIGTERM') => {
        if (!child || exited) return;
        const gone = new Promise(r => child.once('exit', r));
        child.kill(signal);
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(t);
    };
    process.on('exit', () => child && !exited && child.kill('SIGKILL'));
    await up();
    return {
        url, port, up, down, log: () => output,
        signal: sig => child.kill(sig), // SIGSTOP / SIGCONT: a server that stops answering
        restart: async signal => {
            await down(signal);
            await up();
        },
        stop: async () => {
            await down();
            if (process.env.SIO_TEST_SERVER_LOG) process.stderr.write(`--- brokerd output ---\n${output}\n`);
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

/**
 * libSource(brokerdUrl) → where the pages load socket.io.js from: brokerd's /socket.io/socket.io.js when
 * brokerd serves it (it must then be byte-identical to web/socketio/socket.io.js), else the file from
 * disk through the page server. SIO_JS_FROM=disk|brokerd forces one.
 */
async function libSource(brokerdUrl) {
    const force = process.env.SIO_JS_FROM;
    if (force === 'disk') return { from: 'disk' };
    let r = null;
    try {
        r = await get(`${brokerdUrl}/socket.io/socket.io.js`);
    } catch { /* fall through */ }
    if (r && r.status === 200) {
        if (!r.body.equals(fs.readFileSync(LIB_FILE))) throw new Error('brokerd serves a socket.io.js that differs from web/socketio/socket.io.js');
        return { from: 'brokerd', url: `${brokerdUrl}/socket.io/socket.io.js` };
    }
    if (force === 'brokerd') throw new Error(`brokerd does not serve /socket.io/socket.io.js (status ${r && r.status})`);
    return { from: 'disk' };
}

/**
 * startPages(brokerdUrl) → {url, page(params), lib, stop()}. Serves, from another origin than brokerd:
 *   /conn.js            ioBroker's example/conn.js, unchanged
 *   /lib/socket.io.js   web/socketio/socket.io.js from disk
 *   /ref/socket.io.js   socket.io-client 4's bundle (reference behaviour in comparisons)
 *   /conn.html?…        a page: socketUrl/socketSession globals, socket.io.js, conn.js, servConn.init
 *   /bare.html?lib=…    a page with only the client library (lib = ours | ref)
 *   /connection.html    our socket.io.js + ioBroker's Connection.js (example/socket-client, unchanged)
 */
async function startPages(brokerdUrl) {
    const lib = await libSource(brokerdUrl);
    const ours = lib.from === 'brokerd' ? lib.url : '/lib/socket.io.js';
    const esc = s => JSON.stringify(String(s)).replace(/</g, '\\u003c');
    const srv = http.createServer((req, res) => {
        const u = new URL(req.url, 'http://x');
        const send = (type, body) => {
            res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' });
            res.end(body);
        };
        if (u.pathname === '/conn.js') return send('application/javascript', fs.readFileSync(CONN_JS));
        if (u.pathname === '/lib/socket.io.js') return send('application/javascript', fs.readFileSync(LIB_FILE));
        if (u.pathname === '/ref/socket.io.js') return send('application/javascript', fs.readFileSync(REF_JS));
        if (u.pathname === '/favicon.ico') return send('image/x-icon', '');
        const sc = /^\/socket-client\/(\w+\.js)$/.exec(u.pathname);
        if (sc && fs.existsSync(path.join(SOCKET_CLIENT_DIR, sc[1]))) return send('application/javascript', fs.readFileSync(path.join(SOCKET_CLIENT_DIR, sc[1])));
        if (u.pathname === '/connection.html') {
            return send('text/html', `<!doctype html><title>Connection.js</title>
<script>var BROKERD = ${esc(brokerdUrl)}; window.log = []; window.updates = [];</script>
<script src="${ours}"></script>
<script type="module">
import { Connection } from '/socket-client/Connection.js';
const u = new URL(BROKERD);
window.conn = new Connection({
    name: 'sio-test.0', host: u.hostname, port: u.port, protocol: 'http',
    onReady: () => log.push('ready'),
    onProgress: p => log.push('progress:' + p),
    onError: e => log.push('error:' + JSON.stringify(e)),
});
</script>`);
        }
        if (u.pathname === '/bare.html') {
            const src = u.searchParams.get('lib') === 'ref' ? '/ref/socket.io.js' : ours;
            return send('text/html', `<!doctype html><title>bare</title><script>var BROKERD = ${esc(brokerdUrl)};</script>
<script src="${src}"></script>`);
        }
        if (u.pathname === '/conn.html') {
            const p = u.searchParams;
            return send('text/html', `<!doctype html><title>conn.js</title>
<script>
var socketUrl = ${esc(brokerdUrl)};
var socketSession = ${esc(p.get('session') || 'nokey')};
window.events = [];   // [kind, …args] in order
window.updates = [];  // onUpdate(id, state)
</script>
<script src="${ours}"></script>
<script src="/conn.js"></script>
<script>
servConn.setReconnectInterval(${Number(p.get('reconnect')) || 1000});
servConn.init({ name: 'sio-test.0' }, {
    onConnChange: function (c) { events.push(['conn', c]); },
    onUpdate: function (id, state) { updates.push([id, state]); },
    onAuthError: function (err) { events.push(['authError', err]); },
    onError: function (err) { events.push(['error', err]); }
}, false, true);
</script>`);
        }
        res.writeHead(404);
        res.end('not found');
    });
    const port = await freePort();
    await new Promise(r => srv.listen(port, '127.0.0.1', r));
    const url = `http://127.0.0.1:${port}`;
    return {
        url, lib,
        stop: () => new Promise(r => {
            srv.closeAllConnections();
            srv.close(r);
        }),
    };
}

async function launchBrowser() {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run web/socketio/test/run.sh (installs Debian's chromium)`);
    return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** newPage(browser) → page that records uncaught errors and console errors in page.errors. */
async function newPage(browser) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    page.errors = [];
    page.console = [];
    page.on('pageerror', e => page.errors.push(String(e)));
    page.on('console', m => {
        page.console.push(`${m.type()}: ${m.text()}`);
        if (process.env.SIO_TEST_CONSOLE) process.stderr.write(`[page ${m.type()}] ${m.text()}\n`);
    });
    return page;
}

/** nodeClient(url, query) → connected socket.io-client v4 socket with call(name, ...args) → Promise<ack args>. */
async function nodeClient(url, query) {
    const sock = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, query });
    await withTimeout(new Promise((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('connect_error', reject);
    }), TIMEOUT, 'node client connect');
    sock.call = (name, ...args) => withTimeout(new Promise(resolve => sock.emit(name, ...args, (...res) => resolve(res))), TIMEOUT, name);
    return sock;
}

function waitEvent(sock, name, pred, ms = TIMEOUT) {
    let handler;
    return withTimeout(new Promise(resolve => {
        handler = (...args) => {
            if (!pred || pred(...args)) resolve(args);
        };
        sock.on(name, handler);
    }), ms, `event ${name}`).finally(() => sock.off(name, handler));
}

/** seed(client): state objects under sio.0 and the file namespace "vis". */
async function seed(client) {
    await client.call('setObject', 'vis', { type: 'meta', common: { name: 'vis files', type: 'meta.user' }, native: {} });
    await client.call('setObject', 'sio.0', { type: 'meta', common: { name: 'sio test', type: 'meta.user' }, native: {} });
    for (const [id, type, val] of [['sio.0.lamp', 'boolean', true], ['sio.0.temp', 'number', 21.5], ['sio.0.text', 'string', 'hello']]) {
        await client.call('setObject', id, { type: 'state', common: { name: id, type, role: 'state', read: true, write: true }, native: {} });
        await client.call('setState', id, { val, ack: true });
    }
}

module.exports = { startBrokerd, startPages, launchBrowser, newPage, nodeClient, waitEvent, waitFor, withTimeout, seed, sleep, get, TIMEOUT, LIB_FILE };
