'use strict';
// Load ioBroker's legacy browser client `example/conn.js` (servConn, as used by vis 1.x) from the
// installed iobroker.socketio package and run it in Node inside a vm context with a minimal
// browser shim. Nothing of conn.js is copied into this repository.
//
// Globals conn.js touches: io (socket.io-client 2.5.0 = sio2), window.location / window.localStorage,
// location, document.URL / document.getElementById, setTimeout/setInterval (+clear), console.
// It also probes (typeof) socketNamespace, socketUrl, socketSession, socketForceWebSockets,
// session, storage, app and $, which stay undefined here unless given.

const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const io2 = require('sio2');

const CONN_JS = path.join(path.dirname(require.resolve('iobroker.socketio/package.json')), 'example', 'conn.js');
const SOURCE = fs.readFileSync(CONN_JS, 'utf8');

/**
 * Create an isolated servConn.
 * @param {string} url server base URL (used as page URL too)
 * @param {{namespace?: string}} opts namespace → global socketNamespace (default: conn.js' "vis.0")
 * @returns {{servConn, reloads: number, logs: string[], dispose(): void}}
 */
function loadServConn(url, { namespace } = {}) {
    const timers = new Set();
    const intervals = new Set();
    const logs = [];
    const page = new URL('/vis/index.html', url);
    const env = { reloads: 0, logs };

    const location = {
        href: page.href,
        protocol: page.protocol,
        host: page.host,
        hostname: page.hostname,
        port: page.port,
        pathname: page.pathname,
        search: '',
        hash: '',
        // conn.js reloads the page when authenticate is not answered within 6 s: count it as a failure
        reload() {
            env.reloads++;
        },
    };
    const store = new Map();
    const window = {
        location,
        localStorage: {
            getItem: k => (store.has(k) ? store.get(k) : null),
            setItem: (k, v) => store.set(k, String(v)),
            removeItem: k => store.delete(k),
        },
        alert: msg => logs.push(`alert: ${msg}`),
    };
    const log = level => (...a) => logs.push(`${level}: ${a.map(String).join(' ')}`);
    const sandbox = {
        io: io2,
        window,
        location,
        document: { URL: page.href, getElementById: () => null },
        console: { log: log('log'), info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug') },
        setTimeout: (fn, ms, ...a) => {
            const t = setTimeout(() => {
                timers.delete(t);
                fn(...a);
            }, ms);
            timers.add(t);
            return t;
        },
        clearTimeout: t => {
            timers.delete(t);
            clearTimeout(t);
        },
        setInterval: (fn, ms, ...a) => {
            const t = setInterval(fn, ms, ...a);
            intervals.add(t);
            return t;
        },
        clearInterval: t => {
            intervals.delete(t);
            clearInterval(t);
        },
        btoa: s => Buffer.from(s, 'binary').toString('base64'),
        atob: s => Buffer.from(s, 'base64').toString('binary'),
    };
    if (namespace) sandbox.socketNamespace = namespace;
    sandbox.self = sandbox;
    vm.createContext(sandbox);
    vm.runInContext(SOURCE, sandbox, { filename: CONN_JS });
    // `var servConn` at the top level of a script becomes a property of the context's global
    const servConn = sandbox.servConn;
    if (!servConn || typeof servConn.init !== 'function') throw new Error(`${CONN_JS} did not define servConn`);

    env.servConn = servConn;
    env.dispose = () => {
        for (const t of timers) clearTimeout(t);
        for (const t of intervals) clearInterval(t);
        timers.clear();
        intervals.clear();
        if (servConn._socket) {
            // stop conn.js' own reconnect loop before closing
            servConn._socket.off && servConn._socket.off('disconnect');
            servConn._socket.close();
        }
        for (const t of timers) clearTimeout(t);
        for (const t of intervals) clearInterval(t);
    };
    return env;
}

module.exports = { loadServConn, CONN_JS };
