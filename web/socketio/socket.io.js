/*!
 * socket.io.js — brokerd's own implementation of the subset of the socket.io-client API that
 * ioBroker web pages use (conn.js / servConn, Connection.js). It is NOT socket.io-client: it was
 * written for brokerd, has no dependencies and no build step, and defines one global, `window.io`.
 *
 * Wire protocol: Engine.IO v4 + Socket.IO v5 over the browser's WebSocket only (no long polling).
 *
 *   io(url?, opts?) / io.connect(url?, opts?) → Socket
 *     url      omitted (same origin), "http(s)://host:port[/namespace]", "//host", "/namespace"
 *     opts     path ("/socket.io"), query (object or "a=1&b=2"), auth (object or fn(cb), sent with
 *              the CONNECT packet), reconnection (true), reconnectionAttempts (Infinity),
 *              reconnectionDelay (1000), reconnectionDelayMax (5000), randomizationFactor (0.5),
 *              timeout (20000 ms until the Engine.IO handshake), forceNew, autoConnect (true);
 *              socket.io 0.9/2.x names 'reconnection delay', 'reconnection limit',
 *              'max reconnection attempts' are understood; transports/upgrade/rememberUpgrade ignored.
 *   socket   on once off removeListener removeAllListeners listeners hasListeners onAny offAny
 *            emit(event, ...args, [ackFn]) send connect open disconnect close
 *            connected disconnected active id io (the Manager)
 *   events   connect, disconnect(reason), connect_error(Error), error(message string, for refusals
 *            "44{message}" like socket.io-client 2.x), reconnect(attempt), reconnect_attempt(n),
 *            reconnecting(n), reconnect_error(Error), reconnect_failed — reconnect events are emitted
 *            on the Manager (socket.io) and on the socket (2.x style) — plus every server event.
 *   binary   ArrayBuffer, typed arrays and Blobs in emitted arguments travel as attachments;
 *            attachments from the server arrive as ArrayBuffer.
 * Emits made before the socket is connected are queued and sent after "connect"; server events
 * that arrive before "connect" are delivered after it (and dropped when the connect is refused).
 */
(function (root) {
    'use strict';

    // Socket.IO packet types
    const CONNECT = 0, DISCONNECT = 1, EVENT = 2, ACK = 3, CONNECT_ERROR = 4, BINARY_EVENT = 5, BINARY_ACK = 6;
    // events the library emits itself; socket.emit() of one of them is local, as in socket.io-client 2.x
    const RESERVED = new Set(['connect', 'connect_error', 'connect_timeout', 'connecting', 'disconnect', 'disconnecting',
        'error', 'reconnect', 'reconnect_attempt', 'reconnect_failed', 'reconnect_error', 'reconnecting', 'ping', 'pong',
        'newListener', 'removeListener']);

    // ---------------------------------------------------------------- event emitter
    class Emitter {
        constructor() {
            this._listeners = new Map();
        }
        on(ev, fn) {
            if (!this._listeners.has(ev)) this._listeners.set(ev, []);
            this._listeners.get(ev).push(fn);
            return this;
        }
        addEventListener(ev, fn) {
            return this.on(ev, fn);
        }
        once(ev, fn) {
            const wrap = (...args) => {
                this.off(ev, wrap);
                fn.apply(this, args);
            };
            wrap.fn = fn;
            return this.on(ev, wrap);
        }
        off(ev, fn) {
            if (ev === undefined) {
                this._listeners.clear();
            } else if (fn === undefined) {
                this._listeners.delete(ev);
            } else {
                const list = this._listeners.get(ev) || [];
                const i = list.findIndex(l => l === fn || l.fn === fn);
                if (i !== -1) list.splice(i, 1);
                if (!list.length) this._listeners.delete(ev);
            }
            return this;
        }
        removeListener(ev, fn) {
            return this.off(ev, fn);
        }
        removeAllListeners(ev) {
            return this.off(ev);
        }
        removeEventListener(ev, fn) {
            return this.off(ev, fn);
        }
        listeners(ev) {
            return (this._listeners.get(ev) || []).slice();
        }
        hasListeners(ev) {
            return this.listeners(ev).length > 0;
        }
        emit(ev, ...args) {
            return this._local(ev, ...args);
        }
        _local(ev, ...args) {
            for (const fn of this.listeners(ev)) {
                try {
                    fn.apply(this, args);
                } catch (e) {
                    // one failing listener must not break the connection or the other listeners
                    setTimeout(() => {
                        throw e;
                    });
                }
            }
            return this;
        }
    }

    // ---------------------------------------------------------------- binary helpers
    const isBinary = x => (typeof ArrayBuffer !== 'undefined' && (x instanceof ArrayBuffer || ArrayBuffer.isView(x))) ||
        (typeof Blob !== 'undefined' && x instanceof Blob);
    const isPlainObject = x => x !== null && typeof x === 'object' &&
        (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null);

    // deconstruct replaces binary values by {_placeholder: true, num} and collects them in buffers.
    function deconstruct(data, buffers) {
        if (isBinary(data)) {
            buffers.push(data);
            return { _placeholder: true, num: buffers.length - 1 };
        }
        if (Array.isArray(data)) return data.map(x => deconstruct(x, buffers));
        if (isPlainObject(data)) {
            const out = {};
            for (const k of Object.keys(data)) out[k] = deconstruct(data[k], buffers);
            return out;
        }
        return data; // Date, null, numbers, objects with toJSON: JSON.stringify handles them
    }

    // reconstruct puts the received attachments back where their placeholders are.
    function reconstruct(data, buffers) {
        if (Array.isArray(data)) return data.map(x => reconstruct(x, buffers));
        if (data && typeof data === 'object') {
            if (data._placeholder === true && typeof data.num === 'number') {
                if (data.num < 0 || data.num >= buffers.length) throw new Error('illegal attachment');
                return buffers[data.num];
            }
            for (const k of Object.keys(data)) data[k] = reconstruct(data[k], buffers);
        }
        return data;
    }

    // ---------------------------------------------------------------- Socket.IO packet codec
    // encode → [text, ...binaryFrames]; text is the Engine.IO message without its leading "4".
    function encode(p) {
        const buffers = [];
        let data = p.data;
        if (data !== undefined && (p.type === EVENT || p.type === ACK)) {
            data = deconstruct(data, buffers);
            if (buffers.length) p.type = p.type === EVENT ? BINARY_EVENT : BINARY_ACK;
        }
        let s = String(p.type);
        if (buffers.length) s += buffers.length + '-';
        if (p.nsp && p.nsp !== '/') s += p.nsp + ',';
        if (p.id !== undefined) s += p.id;
        if (data !== undefined) s += JSON.stringify(data);
        return [s].concat(buffers);
    }

    // decodeText parses "<type>[<n>-][<nsp>,][<id>][<json>]".
    function decodeText(s) {
        let i = 0;
        const p = { type: Number(s.charAt(i++)), nsp: '/', attachments: 0 };
        if (!(p.type >= CONNECT && p.type <= BINARY_ACK)) throw new Error('unknown packet type ' + s.charAt(0));
        if (p.type === BINARY_EVENT || p.type === BINARY_ACK) {
            const dash = s.indexOf('-', i);
            p.attachments = Number(s.slice(i, dash));
            if (dash === -1 || !(p.attachments >= 0)) throw new Error('illegal attachments');
            i = dash + 1;
        }
        if (s.charAt(i) === '/') {
            const comma = s.indexOf(',', i);
            const end = comma === -1 ? s.length : comma;
            p.nsp = s.slice(i, end);
            i = end + 1;
        }
        const m = /^\d+/.exec(s.slice(i));
        if (m) {
            p.id = Number(m[0]);
            i += m[0].length;
        }
        if (i < s.length) p.data = JSON.parse(s.slice(i));
        return p;
    }

    // ---------------------------------------------------------------- URL and options
    function parseUrl(url) {
        const loc = root.location || { protocol: 'http:', host: 'localhost', href: 'http://localhost/' };
        url = url === undefined || url === null ? '' : String(url);
        if (url.startsWith('//')) url = loc.protocol + url;
        else if (url && !url.startsWith('/') && !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) url = loc.protocol + '//' + url;
        const u = new URL(url || '/', loc.href);
        const secure = u.protocol === 'https:' || u.protocol === 'wss:';
        return { ws: (secure ? 'wss://' : 'ws://') + u.host, nsp: u.pathname || '/', query: u.search.slice(1) };
    }

    function queryString(q) {
        if (!q) return '';
        if (typeof q === 'string') return q.replace(/^[?&]+/, '');
        return Object.keys(q).filter(k => q[k] !== undefined && q[k] !== null)
            .map(k => encodeURIComponent(k) + '=' + encodeURIComponent(q[k])).join('&');
    }

    function normalizeOptions(o) {
        o = Object.assign({}, o);
        const pick = (...vals) => vals.find(v => v !== undefined && v !== null);
        return Object.assign(o, {
            path: (o.path || '/socket.io').replace(/\/$/, '') + '/',
            reconnection: o.reconnection !== false,
            reconnectionAttempts: pick(o.reconnectionAttempts, o['max reconnection attempts'], Infinity),
            reconnectionDelay: pick(o.reconnectionDelay, o['reconnection delay'], 1000),
            reconnectionDelayMax: pick(o.reconnectionDelayMax, o['reconnection limit'], 5000),
            randomizationFactor: pick(o.randomizationFactor, 0.5),
            timeout: pick(o.timeout, o['connect timeout'], 20000),
        });
    }

    // ---------------------------------------------------------------- Manager: one WebSocket
    class Manager extends Emitter {
        constructor(uri, opts) {
            super();
            if (typeof uri === 'object' && uri !== null) [uri, opts] = [undefined, uri];
            const u = parseUrl(uri);
            this.opts = normalizeOptions(opts);
            this.uri = u.ws + this.opts.path + '?EIO=4&transport=websocket' +
                [u.query, queryString(this.opts.query)].filter(Boolean).map(q => '&' + q).join('');
            this.nsps = {};
            this.readyState = 'closed';
            this.reconnecting = false;
            this.skipReconnect = false;
            this.attempts = 0;
            this.engine = { id: null, readyState: 'closed', transport: { name: 'websocket' } };
            this._ws = null;
            this._timers = {};
        }
        reconnection(v) {
            if (v === undefined) return this.opts.reconnection;
            this.opts.reconnection = !!v;
            return this;
        }
        reconnectionAttempts(v) {
            return this._opt('reconnectionAttempts', v);
        }
        reconnectionDelay(v) {
            return this._opt('reconnectionDelay', v);
        }
        reconnectionDelayMax(v) {
            return this._opt('reconnectionDelayMax', v);
        }
        timeout(v) {
            return this._opt('timeout', v);
        }
        _opt(k, v) {
            if (v === undefined) return this.opts[k];
            this.opts[k] = v;
            return this;
        }
        socket(nsp, opts) {
            if (!this.nsps[nsp]) this.nsps[nsp] = new Socket(this, nsp, opts);
            return this.nsps[nsp];
        }
        _emitAll(ev, ...args) {
            this.emit(ev, ...args);
            for (const s of Object.values(this.nsps)) s._local(ev, ...args);
        }
        _clear(name) {
            clearTimeout(this._timers[name]);
            delete this._timers[name];
        }

        // open (alias connect) starts the WebSocket; done(err) is called once it opened or failed.
        open(done) {
            if (this.readyState === 'opening' || this.readyState === 'open') return this;
            this.skipReconnect = false;
            this.readyState = this.engine.readyState = 'opening';
            this._buffers = null;
            let ws;
            const fail = err => {
                if (this._ws !== ws) return;
                this._cleanup();
                this.readyState = this.engine.readyState = 'closed';
                this.emit('error', err);
                for (const s of Object.values(this.nsps)) if (s.active) s._onConnectError(err);
                if (done) done(err);
                else if (!this.reconnecting && this.opts.reconnection && this.attempts === 0) this._reconnect();
            };
            try {
                ws = this._ws = new WebSocket(this.uri);
            } catch (e) {
                ws = this._ws = {};
                setTimeout(() => fail(e));
                return this;
            }
            ws.binaryType = 'arraybuffer';
            ws.onmessage = e => this._onData(e.data, () => done && done());
            ws.onerror = () => {}; // onclose follows with the details we need
            ws.onclose = e => {
                if (this.readyState === 'opening') fail(Object.assign(new Error('websocket error'), { type: 'TransportError', description: e }));
                else if (this._ws === ws) this._onClose('transport close');
            };
            if (this.opts.timeout !== false) {
                this._timers.open = setTimeout(() => {
                    fail(new Error('timeout'));
                    ws.close();
                }, this.opts.timeout);
            }
            return this;
        }
        connect(done) {
            return this.open(done);
        }

        // _onData handles one Engine.IO frame.
        _onData(data, opened) {
            if (typeof data !== 'string') return this._onBinary(data);
            const type = data.charAt(0);
            if (type === '0' && this.readyState === 'opening') {
                let hs;
                try {
                    hs = JSON.parse(data.slice(1));
                } catch (e) {
                    return this._ws.onclose({ reason: 'bad handshake' });
                }
                this.engine.id = hs.sid;
                this._ping = hs.pingInterval + hs.pingTimeout;
                this._clear('open');
                this.readyState = this.engine.readyState = 'open';
                this._resetPing();
                this.emit('open');
                for (const s of Object.values(this.nsps)) if (s.active) s._onOpen();
                opened();
            } else if (type === '2') { // EIO4: the server pings, the client answers
                this._write('3' + data.slice(1));
                this._resetPing();
                this.emit('ping');
            } else if (type === '1') {
                this._onClose('transport close');
            } else if (type === '4') {
                let p;
                try {
                    p = decodeText(data.slice(1));
                } catch (e) {
                    return this._onClose('parse error');
                }
                if (p.attachments > 0) {
                    this._pending = p;
                    this._buffers = [];
                } else {
                    this._dispatch(p);
                }
            } // '6' noop and anything else: ignored
        }
        _onBinary(buf) {
            if (!this._pending) return;
            this._buffers.push(buf);
            if (this._buffers.length < this._pending.attachments) return;
            const p = this._pending;
            try {
                p.data = reconstruct(p.data, this._buffers);
            } catch (e) {
                return this._onClose('parse error');
            }
            this._pending = this._buffers = null;
            this._dispatch(p);
        }
        _dispatch(p) {
            const s = this.nsps[p.nsp];
            if (s) s._onPacket(p);
        }
        _resetPing() {
            this._clear('ping');
            if (this._ping > 0) this._timers.ping = setTimeout(() => this._onClose('ping timeout'), this._ping);
        }
        _write(...frames) {
            if (this.readyState !== 'open') return;
            for (const f of frames) this._ws.send(f);
        }
        _packet(p) {
            const [text, ...bin] = encode(p);
            this._write('4' + text, ...bin);
        }
        _cleanup() {
            this._clear('open');
            this._clear('ping');
            this._pending = this._buffers = null;
            const ws = this._ws;
            this._ws = null;
            if (ws && ws.close) {
                ws.onmessage = ws.onclose = ws.onerror = null;
                if (ws.readyState === 0 || ws.readyState === 1) ws.close();
            }
        }
        _onClose(reason) {
            this._cleanup();
            this.readyState = this.engine.readyState = 'closed';
            this.engine.id = null;
            this.emit('close', reason);
            for (const s of Object.values(this.nsps)) s._onClose(reason);
            if (this.opts.reconnection && !this.skipReconnect) this._reconnect();
        }

        // _reconnect waits (exponential backoff with jitter) and opens again until it works.
        _reconnect() {
            if (this.reconnecting || this.skipReconnect) return;
            if (this.attempts >= this.opts.reconnectionAttempts) {
                this.attempts = 0;
                this._emitAll('reconnect_failed');
                this.reconnecting = false;
                return;
            }
            let delay = Math.min(this.opts.reconnectionDelay * Math.pow(2, this.attempts), this.opts.reconnectionDelayMax);
            const jitter = this.opts.randomizationFactor;
            if (jitter) delay = Math.min(delay * (1 + (Math.random() * 2 - 1) * jitter), this.opts.reconnectionDelayMax);
            this.reconnecting = true;
            this._timers.reconnect = setTimeout(() => {
                if (this.skipReconnect) return;
                this.attempts++;
                this._emitAll('reconnect_attempt', this.attempts);
                this._emitAll('reconnecting', this.attempts);
                if (this.skipReconnect) return;
                this.open(err => {
                    if (err) {
                        this.reconnecting = false;
                        this._reconnect(); // may emit reconnect_failed first, as socket.io-client does
                        this._emitAll('reconnect_error', err);
                    } else {
                        const n = this.attempts;
                        this.reconnecting = false;
                        this.attempts = 0;
                        this._emitAll('reconnect', n);
                    }
                });
            }, Math.round(delay));
        }

        // close (alias disconnect) ends the connection without reconnecting.
        close() {
            this.skipReconnect = true;
            this.reconnecting = false;
            this.attempts = 0;
            this._clear('reconnect');
            if (this.readyState === 'opening') this._cleanup();
            if (this.readyState !== 'closed') this._onClose('forced close');
            this.readyState = this.engine.readyState = 'closed';
            return this;
        }
        disconnect() {
            return this.close();
        }
        _socketGone() {
            if (!Object.values(this.nsps).some(s => s.active)) this.close();
        }
    }

    // ---------------------------------------------------------------- Socket: one namespace
    class Socket extends Emitter {
        constructor(manager, nsp, opts) {
            super();
            this.io = manager;
            this.nsp = nsp;
            this.auth = opts && opts.auth;
            this.id = undefined;
            this.connected = false;
            this.disconnected = true;
            this.active = false;
            this.sendBuffer = [];
            this.receiveBuffer = [];
            this.acks = {};
            this.ids = 0;
            this._any = [];
        }
        connect() {
            if (this.connected) return this;
            this.active = true;
            if (this.io.readyState !== 'open') {
                if (!this.io.reconnecting) this.io.open();
            } else if (!this._connecting) {
                this._onOpen();
            }
            return this;
        }
        open() {
            return this.connect();
        }
        // disconnect (alias close) leaves the namespace; the WebSocket closes when no namespace is left.
        disconnect() {
            const was = this.connected;
            if (was) this._packet({ type: DISCONNECT });
            this.active = false;
            if (was) this._onClose('io client disconnect');
            this.io._socketGone();
            return this;
        }
        close() {
            return this.disconnect();
        }
        send(...args) {
            return this.emit('message', ...args);
        }
        emit(ev, ...args) {
            if (RESERVED.has(ev)) return this._local(ev, ...args); // socket.io-client 2.x: emitted locally
            const p = { type: EVENT, nsp: this.nsp, data: [ev].concat(args) };
            if (typeof args[args.length - 1] === 'function') {
                p.id = this.ids++;
                this.acks[p.id] = p.data.pop();
            }
            if (this.connected) this._packet(p);
            else this.sendBuffer.push(p);
            return this;
        }
        onAny(fn) {
            this._any.push(fn);
            return this;
        }
        prependAny(fn) {
            this._any.unshift(fn);
            return this;
        }
        offAny(fn) {
            this._any = fn ? this._any.filter(f => f !== fn) : [];
            return this;
        }
        listenersAny() {
            return this._any.slice();
        }
        compress() {
            return this;
        }
        get volatile() {
            return this;
        }
        _packet(p) {
            this.io._packet(p);
        }
        _onOpen() {
            this._connecting = true; // CONNECT sent, answer pending
            const send = data => this._packet({ type: CONNECT, nsp: this.nsp, data: data || undefined });
            if (typeof this.auth === 'function') this.auth(send);
            else send(this.auth);
        }
        _onConnectError(err) {
            this._connecting = false;
            this.receiveBuffer = [];
            this._local('connect_error', err);
        }
        _onPacket(p) {
            switch (p.type) {
                case CONNECT:
                    if (this.connected) return;
                    this._connecting = false;
                    this.id = p.data && p.data.sid;
                    this.connected = true;
                    this.disconnected = false;
                    for (const args of this.receiveBuffer.splice(0)) this._deliver(args);
                    for (const q of this.sendBuffer.splice(0)) this._packet(q);
                    this._local('connect');
                    break;
                case CONNECT_ERROR: {
                    const d = p.data;
                    const msg = d && typeof d === 'object' && 'message' in d ? d.message : d;
                    const err = Object.assign(new Error(typeof msg === 'string' ? msg : JSON.stringify(msg)), { data: d && d.data });
                    this.active = false;
                    this._onConnectError(err);
                    this._local('error', msg); // socket.io-client 2.x surfaced refusals as "error" (conn.js relies on it)
                    this.io._socketGone();
                    break;
                }
                case EVENT:
                case BINARY_EVENT: {
                    const args = Array.isArray(p.data) ? p.data.slice() : [];
                    if (p.id !== undefined) args.push(this._ack(p.id));
                    if (this.connected) this._deliver(args);
                    else this.receiveBuffer.push(args);
                    break;
                }
                case ACK:
                case BINARY_ACK: {
                    const fn = this.acks[p.id];
                    delete this.acks[p.id];
                    if (typeof fn === 'function') fn.apply(this, Array.isArray(p.data) ? p.data : []);
                    break;
                }
                case DISCONNECT:
                    this.active = false;
                    this._onClose('io server disconnect');
                    this.io._socketGone();
                    break;
            }
        }
        _deliver(args) {
            for (const fn of this._any.slice()) fn.apply(this, args);
            if (args.length) this._local(...args);
        }
        _ack(id) {
            let sent = false;
            return (...args) => {
                if (sent) return;
                sent = true;
                this._packet({ type: ACK, nsp: this.nsp, id, data: args });
            };
        }
        _onClose(reason) {
            this._connecting = false;
            this.receiveBuffer = [];
            if (!this.connected) return;
            this.connected = false;
            this.disconnected = true;
            this.id = undefined;
            this._local('disconnect', reason);
        }
    }

    // ---------------------------------------------------------------- io()
    const cache = {};

    function lookup(uri, opts) {
        if (typeof uri === 'object' && uri !== null) [uri, opts] = [undefined, uri];
        opts = opts || {};
        const u = parseUrl(uri);
        const key = u.ws + (opts.path || '/socket.io') + '?' + u.query + '&' + queryString(opts.query);
        const fresh = opts.forceNew || opts['force new connection'] || opts.multiplex === false ||
            !cache[key] || cache[key].nsps[u.nsp];
        const mgr = fresh ? new Manager(uri, opts) : cache[key];
        if (fresh && !opts.forceNew && opts.multiplex !== false && !cache[key]) cache[key] = mgr;
        const socket = mgr.socket(u.nsp, opts);
        if (opts.autoConnect !== false) socket.connect();
        return socket;
    }

    lookup.connect = lookup;
    lookup.Manager = Manager;
    lookup.Socket = Socket;
    lookup.protocol = 5;
    lookup.brokerd = true;
    root.io = lookup;
})(typeof window !== 'undefined' ? window : self);
