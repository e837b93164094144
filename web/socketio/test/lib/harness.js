'use strict';
// Test harness for web/socketio/socket.io.js: the real brokerd binary (BROKERD_BIN), a tiny Node
// static server for the test pages (another origin, like a vis page served by the web adapter),
// headless Debian chromium via playwright-core and a Node socket.io-client v4 as a peer client.

const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const { chromium } = require('playwright-core');
const { io } = require('socket.io-client');
const common = require('../../../testlib/harness'); // shared with web/test

const TIMEOUT = Number(process.env.SIO_TEST_TIMEOUT_MS) || 5000;
const LIB_FILE = path.resolve(__dirname, '..', '..', 'socket.io.js');
// ioBroker's own servConn, used unchanged
const CONN_JS = require.resolve('iobroker.socketio/example/conn.js');
// ioBroker's Connection.js (ES modules) as shipped in the same package
const SOCKET_CLIENT_DIR = path.join(path.dirname(CONN_JS), 'socket-client');
// socket.io-client 4's browser bundle: only for comparing behaviour in the tests, never shipped
const REF_JS = require.resolve('socket.io-client/dist/socket.io.js');
const { sleep, get, withTimeout, freePort, stopAll } = common;

/** waitFor(fn) polls fn until it returns a truthy value. */
const waitFor = (fn, what, ms = TIMEOUT) => common.waitFor(fn, what, ms);

/**
 * startBrokerd({auth, config}) → {url, port, up(), down(signal), restart(signal), signal(sig), stop(), log()};
 * with auth the user tester/pw exists; config: extra YAML lines.
 */
async function startBrokerd({ auth = false, config = [] } = {}) {
    const bin = process.env.BROKERD_BIN;
    if (!bin) throw new Error('BROKERD_BIN is not set (run web/socketio/test/run.sh)');
    return common.startBrokerd({ bin, auth, config, tmpPrefix: 'brokerd-sio-', showLog: () => process.env.SIO_TEST_SERVER_LOG });
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

const launchBrowser = () => common.launchBrowser(chromium, 'web/socketio/test/run.sh');

/** newPage(browser) → page; page.errors: uncaught errors only; page.console: every console message. */
const newPage = browser => common.newPage(browser, { echoConsole: () => process.env.SIO_TEST_CONSOLE });

/** nodeClient(url, query) → connected socket.io-client v4 socket with call(name, ...args) → Promise<ack args>. */
const nodeClient = (url, query) => common.nodeClient(io, url, query, TIMEOUT);

const waitEvent = (sock, name, pred, ms = TIMEOUT) => common.waitEvent(sock, name, pred, ms);

/**
 * setUp({auth, config, peer, page}) → {srv, peer, pages, browser, page}: brokerd (startBrokerd), with peer a
 * Node client that seeded the objects (seed), the page server (startPages), the browser and, with page, one page.
 */
function setUp({ auth = false, config = [], peer = false, page = false } = {}) {
    return common.startAll([
        ['srv', () => startBrokerd({ auth, config })],
        peer && ['peer', async e => {
            const c = await nodeClient(e.srv.url);
            await seed(c);
            return c;
        }],
        ['pages', e => startPages(e.srv.url)],
        ['browser', () => launchBrowser()],
        page && ['page', e => newPage(e.browser)],
    ]);
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

module.exports = { startBrokerd, startPages, launchBrowser, newPage, nodeClient, waitEvent, waitFor, withTimeout, seed, sleep, get, setUp, stopAll, TIMEOUT, LIB_FILE };
