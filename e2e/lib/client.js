'use strict';
// Socket.IO client helpers: connect with a chosen library/transport, ack calls and event waits,
// every one bounded by a timeout so that nothing can hang.

const io2 = require('sio2'); // socket.io-client 2.5.0 → Engine.IO 3 (what ioBroker's own pages use)
const io4 = require('sio4'); // socket.io-client 4.x   → Engine.IO 4 (brokerd extension)
const { CALL_TIMEOUT, SUBSCRIBE_SETTLE_MS, REFERENCE } = require('./env');

// The reference installs command handlers only after an async ACL lookup and drops events that
// arrive earlier (protocol.md 1.7 step 2); its own clients wait 50–500 ms. brokerd needs no wait.
const CONNECT_SETTLE_MS = REFERENCE ? 300 : 0;

const LIBS = { sio2: io2, sio4: io4 };

/**
 * Connect and resolve the connected socket.
 * @param {string} url server base URL
 * @param {{client: 'sio2'|'sio4', transport: 'polling'|'websocket'}} variant
 *        'polling' = the library default (polling first, then upgrade to websocket);
 *        'websocket' = websocket only (conn.js' socketForceWebSockets mode).
 */
async function connect(url, variant, extra = {}) {
    const socket = await connectNow(url, variant, extra);
    if (CONNECT_SETTLE_MS) await sleep(CONNECT_SETTLE_MS);
    return socket;
}

/** Like connect() but resolves right inside the 'connect' event, without any settle time. */
function connectNow(url, variant, extra = {}) {
    const io = LIBS[variant.client];
    if (!io) throw new Error(`unknown client ${variant.client}`);
    const opts = { reconnection: false, forceNew: true, timeout: CALL_TIMEOUT, ...extra };
    if (variant.transport === 'websocket') opts.transports = ['websocket'];
    const socket = io(url, opts);
    return new Promise((resolve, reject) => {
        const fail = err => {
            clearTimeout(timer);
            socket.close();
            reject(new Error(`${variant.client}/${variant.transport}: connect to ${url} failed: ${err && err.message ? err.message : err}`));
        };
        const timer = setTimeout(() => fail(`no connect within ${CALL_TIMEOUT} ms`), CALL_TIMEOUT);
        socket.once('connect', () => {
            clearTimeout(timer);
            socket.off('connect_error', fail);
            socket.off('error', fail);
            resolve(socket);
        });
        socket.once('connect_error', fail);
        socket.once('error', fail); // sio2 reports a refused namespace CONNECT as 'error'
    });
}

/** Current Engine.IO transport name of a connected socket ("polling" | "websocket"). */
function transportName(socket) {
    return socket.io.engine.transport.name;
}

/**
 * Resolve once the engine runs on websocket (immediately if it already does).
 * Used to check that polling+upgrade really upgrades.
 */
function waitForUpgrade(socket, timeout = CALL_TIMEOUT) {
    const engine = socket.io.engine;
    if (engine.transport.name === 'websocket') return Promise.resolve('websocket');
    return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no upgrade to websocket within ${timeout} ms`)), timeout);
        engine.once('upgrade', tr => {
            clearTimeout(t);
            resolve(tr && tr.name ? tr.name : engine.transport.name);
        });
    });
}

/** Emit with an ack callback; resolve the ack's argument array or reject after `timeout`. */
function emitAck(socket, event, ...args) {
    return emitAckTimeout(CALL_TIMEOUT, socket, event, ...args);
}

function emitAckTimeout(timeout, socket, event, ...args) {
    return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ack for "${event}" within ${timeout} ms`)), timeout);
        socket.emit(event, ...args, (...reply) => {
            clearTimeout(t);
            resolve(reply);
        });
    });
}

/**
 * Emit with an ack and wait at most `ms`: resolves {answered: false} when no ack came,
 * else {answered: true, reply}. For commands the reference deliberately never answers.
 */
function emitMaybeAck(ms, socket, event, ...args) {
    return new Promise(resolve => {
        const t = setTimeout(() => resolve({ answered: false }), ms);
        socket.emit(event, ...args, (...reply) => {
            clearTimeout(t);
            resolve({ answered: true, reply });
        });
    });
}

/**
 * Record every occurrence of `event` on `socket`.
 * rec.items: array of argument arrays; rec.waitFor(pred) resolves the first (past or future)
 * item matching pred; rec.stop() removes the listener.
 */
function recorder(socket, event) {
    const items = [];
    const waiters = new Set();
    const listener = (...args) => {
        items.push(args);
        for (const w of [...waiters]) {
            if (w.pred(args)) {
                waiters.delete(w);
                clearTimeout(w.timer);
                w.resolve(args);
            }
        }
    };
    socket.on(event, listener);
    return {
        items,
        waitFor(pred = () => true, timeout = CALL_TIMEOUT, what = '') {
            const hit = items.find(pred);
            if (hit) return Promise.resolve(hit);
            return new Promise((resolve, reject) => {
                const w = { pred, resolve };
                w.timer = setTimeout(() => {
                    waiters.delete(w);
                    reject(new Error(`no "${event}" event${what ? ` (${what})` : ''} within ${timeout} ms; got ${items.length}: ${JSON.stringify(items.slice(-5)).slice(0, 500)}`));
                }, timeout);
                waiters.add(w);
            });
        },
        clear() {
            items.length = 0;
        },
        stop() {
            socket.off(event, listener);
            for (const w of waiters) clearTimeout(w.timer);
            waiters.clear();
        },
    };
}

/** Wait for one occurrence of `event` matching pred. */
function waitForEvent(socket, event, pred = () => true, timeout = CALL_TIMEOUT) {
    const rec = recorder(socket, event);
    return rec.waitFor(pred, timeout).finally(() => rec.stop());
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

/**
 * subscribe (states; or `command` = subscribeObjects / subscribeFiles) and wait until the
 * subscription is usable (see SUBSCRIBE_SETTLE_MS). An array `pattern` with subscribeFiles is
 * passed as the argument list (id, pattern).
 */
async function subscribe(socket, pattern, command = 'subscribe') {
    const args = command === 'subscribeFiles' ? pattern : [pattern];
    const reply = await emitAck(socket, command, ...args);
    if (SUBSCRIBE_SETTLE_MS) await sleep(SUBSCRIBE_SETTLE_MS);
    return reply;
}

/** Binary payload as Buffer, whatever the client library delivered (Buffer, ArrayBuffer, view). */
function toBuffer(x) {
    if (Buffer.isBuffer(x)) return x;
    if (x instanceof ArrayBuffer) return Buffer.from(x);
    if (ArrayBuffer.isView(x)) return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
    throw new Error(`not binary: ${typeof x} ${JSON.stringify(x).slice(0, 100)}`);
}

function isBinary(x) {
    return Buffer.isBuffer(x) || x instanceof ArrayBuffer || ArrayBuffer.isView(x);
}

/** Connect n clients of the same variant. */
async function connectMany(url, variant, n) {
    const out = [];
    try {
        for (let i = 0; i < n; i++) out.push(await connect(url, variant));
    } catch (e) {
        out.forEach(s => s.close());
        throw e;
    }
    return out;
}

/**
 * Ensure the meta object `id` exists (file namespace). Written twice on purpose: js-controller
 * 7.2.3 caches "not a meta object" per namespace, and only an update of an already existing meta
 * object clears that cache (reference README "Quirks" 2). Harmless for brokerd.
 */
async function ensureMeta(socket, id) {
    const obj = { type: 'meta', common: { name: id, type: 'meta.user' }, native: {} };
    for (let i = 0; i < 2; i++) {
        const [err] = await emitAck(socket, 'setObject', id, obj);
        if (err) throw new Error(`setObject ${id} (meta) failed: ${JSON.stringify(err)}`);
    }
}

module.exports = {
    connect,
    connectNow,
    connectMany,
    transportName,
    waitForUpgrade,
    emitAck,
    emitAckTimeout,
    emitMaybeAck,
    recorder,
    waitForEvent,
    subscribe,
    sleep,
    toBuffer,
    isBinary,
    ensureMeta,
};
