/*
 * brokerd conn.js — the `servConn` API that ioBroker web pages (vis 1.x style) call, served by
 * brokerd at /conn.js. Written for brokerd; it needs no other script on the page.
 *
 * Transport:
 *   - window.io present (the page loaded a socket.io client, v2 or v4): that library is used.
 *   - otherwise conn.js speaks Socket.IO v5 / Engine.IO v4 itself over the browser's WebSocket
 *     (ws(s)://host/socket.io/?EIO=4&transport=websocket), including binary attachments,
 *     server pings, and reconnect with exponential backoff and jitter.
 *
 * Guarantees (differences to ioBroker's original conn.js):
 *   - Every command has a timeout (connOptions.timeout, default 30 s): callbacks never hang.
 *     A command issued while disconnected is queued and sent after reconnect; if it cannot be
 *     sent in time its callback gets 'notConnectedError'; a sent command without answer gets
 *     'timeout'. Commands in flight when the connection drops get 'notConnectedError' at once.
 *   - Subscriptions (subscribe / subscribeObjects) are restored after every reconnect.
 *   - No page reloads: authentication problems are reported through onAuthError, and the page
 *     can call servConn.login(user, password).
 *   - File names: a name starting with "/" is "/<namespace>/<path>", any other name is relative
 *     to servConn.namespace (default "vis.0"); readDir('/') or readDir('') lists the namespaces.
 *
 * Callback shapes follow ioBroker's conn.js; on failure the error string is the first argument
 * ('timeout', 'notConnectedError', or the server's error such as 'permissionError', 'Not exists').
 * Not err-first (as in the original): getLoggedUser(cb(authEnabled, user)), sendTo(cb(result),
 * failure → cb({error})), getVersion(cb(version || error)).
 */
(function (global) {
    'use strict';

    var DEFAULT_TIMEOUT = 30000;
    var AUTH_ERROR = 'Invalid password or user name';
    var SERVER_EVENTS = ['stateChange', 'objectChange', 'fileChange', 'reauthenticate', 'permissionError',
        'log', 'im', 'tokenInfo'];

    function isBinary(v) {
        return (typeof ArrayBuffer !== 'undefined' && (v instanceof ArrayBuffer || ArrayBuffer.isView(v))) ||
            (typeof Blob !== 'undefined' && v instanceof Blob);
    }

    function hasBinary(v, depth) {
        if (depth > 20 || v === null || typeof v !== 'object') return false;
        if (isBinary(v)) return true;
        if (Array.isArray(v)) {
            for (var i = 0; i < v.length; i++) if (hasBinary(v[i], depth + 1)) return true;
            return false;
        }
        if (typeof v.toJSON === 'function') return false;
        for (var k in v) {
            if (Object.prototype.hasOwnProperty.call(v, k) && hasBinary(v[k], depth + 1)) return true;
        }
        return false;
    }

    // Replace binary values by {_placeholder, num} and collect them (Socket.IO binary packets).
    function deconstruct(v, buffers) {
        if (v === null || typeof v !== 'object') return v;
        if (isBinary(v)) {
            buffers.push(v);
            return { _placeholder: true, num: buffers.length - 1 };
        }
        if (Array.isArray(v)) return v.map(function (x) { return deconstruct(x, buffers); });
        if (typeof v.toJSON === 'function') return v;
        var out = {};
        for (var k in v) {
            if (Object.prototype.hasOwnProperty.call(v, k)) out[k] = deconstruct(v[k], buffers);
        }
        return out;
    }

    function reconstruct(v, buffers) {
        if (v === null || typeof v !== 'object') return v;
        if (v._placeholder === true && typeof v.num === 'number') {
            if (v.num < 0 || v.num >= buffers.length) throw new Error('illegal attachment');
            return buffers[v.num];
        }
        if (Array.isArray(v)) {
            for (var i = 0; i < v.length; i++) v[i] = reconstruct(v[i], buffers);
        } else {
            for (var k in v) {
                if (Object.prototype.hasOwnProperty.call(v, k)) v[k] = reconstruct(v[k], buffers);
            }
        }
        return v;
    }

    function backoffDelay(attempt, o) {
        var d = Math.min(o.reconnectDelayMax, o.reconnectDelay * Math.pow(2, Math.min(attempt, 16)));
        var j = o.reconnectJitter;
        return Math.max(0, Math.round(d * (1 + j * (Math.random() * 2 - 1))));
    }

    function Emitter() {
        this._h = {};
    }
    Emitter.prototype.on = function (ev, fn) {
        (this._h[ev] = this._h[ev] || []).push(fn);
    };
    Emitter.prototype.fire = function (ev) {
        var list = this._h[ev];
        if (!list) return;
        var args = Array.prototype.slice.call(arguments, 1);
        list.slice().forEach(function (fn) {
            try {
                fn.apply(null, args);
            } catch (e) {
                console.error('conn.js: ' + ev + ' handler failed', e);
            }
        });
    };

    /*
     * NativeSocket: Socket.IO v5 over Engine.IO v4 over one WebSocket, root namespace only.
     * Events fired: connect, disconnect(reason), event(name, args, ackFn|null),
     * connect_error(message, isServerRefusal).
     */
    function NativeSocket(opts) {
        Emitter.call(this);
        this.opts = opts;
        this.ws = null;
        this.connected = false;
        this.stopped = true;
        this.attempt = 0;
        this.acks = {};
        this.nextId = 0;
        this.binary = null; // packet waiting for its attachments
        this.reconnectTimer = null;
        this.pingTimer = null;
        this.pingWait = 0;
    }
    NativeSocket.prototype = Object.create(Emitter.prototype);

    NativeSocket.prototype.url = function () {
        var base = this.opts.url.replace(/^http/, 'ws').replace(/\/+$/, '');
        var q = 'EIO=4&transport=websocket';
        var extra = this.opts.query || {};
        Object.keys(extra).forEach(function (k) {
            q += '&' + encodeURIComponent(k) + '=' + encodeURIComponent(extra[k]);
        });
        return base + this.opts.path + '?' + q;
    };

    NativeSocket.prototype.open = function () {
        this.stopped = false;
        clearTimeout(this.reconnectTimer);
        this.reconnectTimer = null;
        if (this.ws) return;
        var self = this;
        var ws;
        try {
            ws = new WebSocket(this.url());
        } catch (e) {
            this._scheduleReconnect();
            return;
        }
        ws.binaryType = 'arraybuffer';
        this.ws = ws;
        ws.onmessage = function (m) {
            if (self.ws === ws) self._onFrame(m.data);
        };
        ws.onclose = function () {
            if (self.ws === ws) self._onClose('transport close');
        };
        ws.onerror = function () {
            // onclose follows and does the work
        };
    };

    // close stops the socket until open() is called again.
    NativeSocket.prototype.close = function () {
        this.stopped = true;
        clearTimeout(this.reconnectTimer);
        this.reconnectTimer = null;
        if (this.ws) {
            var ws = this.ws;
            if (this.connected && ws.readyState === 1) ws.send('41');
            this._onClose('io client disconnect');
            try {
                ws.close();
            } catch (e) { /* already closed */ }
        }
    };

    NativeSocket.prototype._onClose = function (reason) {
        var was = this.connected;
        if (this.ws) {
            this.ws.onmessage = this.ws.onclose = this.ws.onerror = null;
            try {
                this.ws.close();
            } catch (e) { /* ignore */ }
        }
        this.ws = null;
        this.connected = false;
        this.binary = null;
        clearTimeout(this.pingTimer);
        var acks = this.acks;
        this.acks = {};
        if (was) this.fire('disconnect', reason);
        // acks of the dead connection can never arrive
        Object.keys(acks).forEach(function (id) {
            acks[id].fail();
        });
        if (!this.stopped) this._scheduleReconnect();
    };

    NativeSocket.prototype._scheduleReconnect = function () {
        if (this.stopped || this.reconnectTimer) return;
        var self = this;
        var delay = backoffDelay(this.attempt++, this.opts);
        this.reconnectTimer = setTimeout(function () {
            self.reconnectTimer = null;
            if (!self.stopped) self.open();
        }, delay);
    };

    NativeSocket.prototype._armPing = function () {
        var self = this;
        clearTimeout(this.pingTimer);
        if (!this.pingWait) return;
        this.pingTimer = setTimeout(function () {
            if (self.ws) self._onClose('ping timeout');
        }, this.pingWait);
    };

    NativeSocket.prototype._send = function (data) {
        if (this.ws && this.ws.readyState === 1) this.ws.send(data);
    };

    NativeSocket.prototype._onFrame = function (data) {
        if (typeof data !== 'string') {
            var b = this.binary;
            if (!b) return; // stray attachment
            b.buffers.push(data);
            if (b.buffers.length === b.count) {
                this.binary = null;
                try {
                    this._dispatch(b.type, b.id, reconstruct(b.data, b.buffers));
                } catch (e) {
                    console.error('conn.js: bad binary packet', e);
                }
            }
            return;
        }
        this._armPing();
        switch (data.charAt(0)) {
            case '0': { // Engine.IO open
                var open = {};
                try {
                    open = JSON.parse(data.slice(1));
                } catch (e) { /* keep defaults */ }
                this.pingWait = (open.pingInterval || 25000) + (open.pingTimeout || 20000);
                this._armPing();
                this._send('40' + (this.opts.auth ? JSON.stringify(this.opts.auth) : ''));
                break;
            }
            case '1': // Engine.IO close
                this._onClose('transport close');
                break;
            case '2': // server ping
                this._send('3' + data.slice(1));
                break;
            case '4':
                this._onPacket(data.slice(1));
                break;
            default: // 3 pong, 6 noop: nothing to do
                break;
        }
    };

    // _onPacket parses a Socket.IO packet: type [attachments-] [/nsp,] [id] [json].
    NativeSocket.prototype._onPacket = function (p) {
        var type = Number(p.charAt(0));
        var i = 1;
        var count = 0;
        if (type === 5 || type === 6) {
            var dash = p.indexOf('-', i);
            if (dash < 0) return;
            count = Number(p.slice(i, dash));
            i = dash + 1;
        }
        if (p.charAt(i) === '/') { // namespace: only "/" is used
            var comma = p.indexOf(',', i);
            var nsp = comma < 0 ? p.slice(i) : p.slice(i, comma);
            if (nsp !== '/') return;
            i = comma < 0 ? p.length : comma + 1;
        }
        var start = i;
        while (i < p.length && p.charCodeAt(i) >= 48 && p.charCodeAt(i) <= 57) i++;
        var id = i > start ? Number(p.slice(start, i)) : null;
        var data;
        if (i < p.length) {
            try {
                data = JSON.parse(p.slice(i));
            } catch (e) {
                console.error('conn.js: bad packet', p.slice(0, 80));
                return;
            }
        }
        if (type === 5 || type === 6) {
            if (count === 0) {
                this._dispatch(type - 3, id, data);
            } else {
                this.binary = { type: type - 3, id: id, data: data, count: count, buffers: [] };
            }
            return;
        }
        this._dispatch(type, id, data);
    };

    NativeSocket.prototype._dispatch = function (type, id, data) {
        var self = this;
        switch (type) {
            case 0: // CONNECT
                this.connected = true;
                this.attempt = 0;
                this.fire('connect');
                break;
            case 1: // DISCONNECT by the server (e.g. shutdown): reconnect like on transport loss
                this._onClose('io server disconnect');
                break;
            case 2: { // EVENT
                if (!Array.isArray(data) || !data.length) return;
                var ack = null;
                if (id !== null) {
                    var sent = false;
                    ack = function () {
                        if (sent) return;
                        sent = true;
                        self._emitPacket(3, id, Array.prototype.slice.call(arguments));
                    };
                }
                this.fire('event', data[0], data.slice(1), ack);
                break;
            }
            case 3: { // ACK
                var a = this.acks[id];
                if (a) {
                    delete this.acks[id];
                    a.done(Array.isArray(data) ? data : []);
                }
                break;
            }
            case 4: { // CONNECT_ERROR: the server refused us (middleware, e.g. authentication)
                var msg = data && typeof data === 'object' ? data.message : data;
                this.stopped = true; // retrying cannot help until the page logs in
                this.fire('connect_error', String(msg || 'connect error'), true);
                this._onClose('connect error');
                break;
            }
        }
    };

    // _emitPacket sends EVENT (2) or ACK (3), as binary packet when an argument is binary.
    NativeSocket.prototype._emitPacket = function (type, id, arr) {
        var head = id === null || id === undefined ? '' : String(id);
        if (hasBinary(arr, 0)) {
            var buffers = [];
            var json = JSON.stringify(deconstruct(arr, buffers));
            this._send('4' + (type + 3) + buffers.length + '-' + head + json);
            for (var i = 0; i < buffers.length; i++) this._send(buffers[i]);
        } else {
            this._send('4' + type + head + JSON.stringify(arr));
        }
    };

    // emit(name, args, ack{done(argsArray), fail()}|null)
    NativeSocket.prototype.emit = function (name, args, ack) {
        var id = null;
        if (ack) {
            id = this.nextId++;
            this.acks[id] = ack;
        }
        this._emitPacket(2, id, [name].concat(args));
        return id;
    };

    NativeSocket.prototype.forget = function (id) {
        delete this.acks[id];
    };

    /*
     * LibSocket: the same interface on top of a socket.io client library the page loaded
     * (window.io, socket.io-client 2.x or 4.x).
     */
    function LibSocket(opts, io) {
        Emitter.call(this);
        this.opts = opts;
        this.io = io;
        this.sock = null;
        this.connected = false;
        this.stopped = true;
        this.pending = {};
        this.nextId = 0;
        this.reconnectTimer = null;
        this.attempt = 0;
    }
    LibSocket.prototype = Object.create(Emitter.prototype);

    LibSocket.prototype.open = function () {
        this.stopped = false;
        clearTimeout(this.reconnectTimer);
        this.reconnectTimer = null;
        if (this.sock) {
            this.sock.connect();
            return;
        }
        var self = this;
        var o = this.opts;
        var options = {
            path: o.path.replace(/\/+$/, ''),
            query: o.query || {},
            reconnection: true,
            reconnectionDelay: o.reconnectDelay,
            reconnectionDelayMax: o.reconnectDelayMax,
            randomizationFactor: o.reconnectJitter,
            forceNew: true,
        };
        if (o.auth) options.auth = o.auth;
        if (o.transports) options.transports = o.transports;
        var s = this.io(o.url, options);
        this.sock = s;
        s.on('connect', function () {
            self.connected = true;
            self.attempt = 0;
            self.fire('connect');
        });
        s.on('disconnect', function (reason) {
            var was = self.connected;
            self.connected = false;
            self._failPending();
            if (was) self.fire('disconnect', reason);
            // the libraries do not reconnect after a server-side disconnect (e.g. shutdown)
            if (reason === 'io server disconnect' && !self.stopped) self._scheduleReconnect();
        });
        // v4: middleware refusal or transport failure; v2: transport failure
        s.on('connect_error', function (err) {
            var msg = err && err.message !== undefined ? err.message : String(err);
            var transport = (err && err.type === 'TransportError') || /^(websocket error|xhr poll error|timeout|server error)$/.test(msg);
            if (!transport) {
                self.stopped = true;
                self.fire('connect_error', msg, true);
            }
        });
        // v2: ERROR packet from the server ("Invalid password or user name")
        s.on('error', function (err) {
            var msg = err && err.message !== undefined ? err.message : String(err);
            self.stopped = true;
            try {
                s.close();
            } catch (e) { /* ignore */ }
            self.fire('connect_error', msg, true);
        });
        SERVER_EVENTS.forEach(function (ev) {
            s.on(ev, function () {
                var args = Array.prototype.slice.call(arguments);
                var ack = args.length && typeof args[args.length - 1] === 'function' ? args.pop() : null;
                self.fire('event', ev, args, ack);
            });
        });
    };

    LibSocket.prototype._scheduleReconnect = function () {
        var self = this;
        clearTimeout(this.reconnectTimer);
        this.reconnectTimer = setTimeout(function () {
            self.reconnectTimer = null;
            if (!self.stopped && self.sock) self.sock.connect();
        }, backoffDelay(this.attempt++, this.opts));
    };

    LibSocket.prototype._failPending = function () {
        var p = this.pending;
        this.pending = {};
        Object.keys(p).forEach(function (id) {
            p[id].fail();
        });
    };

    LibSocket.prototype.close = function () {
        this.stopped = true;
        clearTimeout(this.reconnectTimer);
        if (this.sock) this.sock.close();
        if (this.connected) {
            this.connected = false;
            this._failPending();
            this.fire('disconnect', 'io client disconnect');
        }
    };

    LibSocket.prototype.emit = function (name, args, ack) {
        var s = this.sock;
        if (!ack) {
            s.emit.apply(s, [name].concat(args));
            return null;
        }
        var self = this;
        var id = this.nextId++;
        this.pending[id] = ack;
        s.emit.apply(s, [name].concat(args, [function () {
            if (!self.pending[id]) return;
            delete self.pending[id];
            ack.done(Array.prototype.slice.call(arguments));
        }]));
        return id;
    };

    LibSocket.prototype.forget = function (id) {
        delete this.pending[id];
    };

    // splitName turns "/<namespace>/<path>" into [namespace, path]; other names are relative to ns.
    function splitName(name, ns) {
        name = name || '';
        if (name.charAt(0) !== '/') return [ns, name];
        var parts = name.split('/');
        return [parts[1] || '', parts.slice(2).join('/')];
    }

    var servConn = {
        namespace: 'vis.0',
        _socket: null,
        _connCallbacks: {},
        _connOptions: {},
        _isConnected: false,
        _ready: false,
        _user: null,
        _authEnabled: false,
        _authError: false,
        _queue: [],
        _subs: {},
        _objSubs: {},
        _autoSubscribe: true,
        _objectsRequired: false,
        _defaultMode: 0x644,
        _type: 'socket.io',
        _baseUrl: '',

        getType: function () {
            return this._type;
        },
        getIsConnected: function () {
            return this._isConnected;
        },
        getIsLoginRequired: function () {
            return this._authEnabled;
        },
        getUser: function () {
            return this._user;
        },
        // kept for compatibility; conn.js never reloads the page
        setReloadTimeout: function () {},
        setReconnectInterval: function (interval) {
            var v = parseInt(interval, 10);
            if (v > 0) this._connOptions.reconnectDelayMax = v;
        },

        /**
         * init(connOptions, connCallbacks, objectsRequired, autoSubscribe)
         * connOptions: {name, connLink (server URL, default the page's origin), path ('/socket.io/'),
         *   timeout (ms per command, default 30000), queueWhileDisconnected (default true),
         *   reconnectDelay (500), reconnectDelayMax (10000), reconnectJitter (0.5),
         *   useWindowIo (default: when window.io exists), socketForceWebSockets, socketSession, auth}
         * connCallbacks: onConnChange(bool), onUpdate(id, state), onObjectChange(id, obj),
         *   onFileChange(id, fileName, size), onError(err), onAuthError(message), onCommand(instance, cmd, data)
         */
        init: function (connOptions, connCallbacks, objectsRequired, autoSubscribe) {
            var self = this;
            if (typeof global.socketNamespace !== 'undefined') this.namespace = global.socketNamespace;
            var o = {};
            connOptions = connOptions || {};
            Object.keys(connOptions).forEach(function (k) {
                o[k] = connOptions[k];
            });
            o.name = o.name || this.namespace;
            o.timeout = o.timeout > 0 ? o.timeout : DEFAULT_TIMEOUT;
            o.reconnectDelay = o.reconnectDelay > 0 ? o.reconnectDelay : 500;
            o.reconnectDelayMax = o.reconnectDelayMax > 0 ? o.reconnectDelayMax : 10000;
            o.reconnectJitter = o.reconnectJitter >= 0 && o.reconnectJitter <= 1 ? o.reconnectJitter : 0.5;
            o.queueWhileDisconnected = o.queueWhileDisconnected !== false;
            o.path = o.path || '/socket.io/';
            var link = o.connLink || (typeof global.socketUrl !== 'undefined' && global.socketUrl !== 'local' ? global.socketUrl : '');
            if (link && link.charAt(0) === ':') link = location.protocol + '//' + location.hostname + link;
            this._baseUrl = (link || location.protocol + '//' + location.host).replace(/\/+$/, '');
            o.url = this._baseUrl;
            if (!o.socketSession && typeof global.socketSession !== 'undefined') o.socketSession = global.socketSession;
            o.query = o.query || {};
            if (o.socketSession) o.query.key = o.socketSession;
            if (o.socketForceWebSockets === undefined && typeof global.socketForceWebSockets !== 'undefined') {
                o.socketForceWebSockets = global.socketForceWebSockets;
            }
            if (o.socketForceWebSockets) o.transports = ['websocket'];
            this._connOptions = o;
            this._connCallbacks = connCallbacks || {};
            this._objectsRequired = !!objectsRequired;
            if (autoSubscribe !== undefined) this._autoSubscribe = !!autoSubscribe;
            if (o.autoSubscribe !== undefined) this._autoSubscribe = !!o.autoSubscribe;

            if (this._socket) this._socket.close();
            var useLib = o.useWindowIo !== undefined ? o.useWindowIo : typeof global.io === 'function';
            this._socket = useLib ? new LibSocket(o, global.io) : new NativeSocket(o);
            this._transport = useLib ? 'window.io' : 'native';
            var s = this._socket;
            s.on('connect', function () {
                if (s === self._socket) self._onConnect();
            });
            s.on('disconnect', function (reason) {
                if (s === self._socket) self._onDisconnect(reason);
            });
            s.on('connect_error', function (msg) {
                if (s === self._socket) self._onAuthFailure(msg);
            });
            s.on('event', function (name, args, ack) {
                if (s === self._socket) self._onEvent(name, args, ack);
            });
            s.open();
        },

        _cb: function (name) {
            var fn = this._connCallbacks[name];
            if (typeof fn !== 'function') return;
            var args = Array.prototype.slice.call(arguments, 1);
            try {
                fn.apply(null, args);
            } catch (e) {
                console.error('conn.js: ' + name + ' callback failed', e);
            }
        },

        _onConnect: function () {
            var self = this;
            var s = this._socket;
            this._authError = false;
            s.emit('name', [this._connOptions.name], null);
            this._send('authenticate', [], function (args) {
                if (s !== self._socket || !s.connected) return;
                if (args.err === 'timeout' || args[0]) {
                    self._afterAuth();
                } else {
                    self._onAuthFailure('authenticate refused');
                }
            }, Math.min(this._connOptions.timeout, 6000));
        },

        _afterAuth: function () {
            var self = this;
            var s = this._socket;
            if (this._autoSubscribe) s.emit('subscribe', ['*'], null);
            var subs = Object.keys(this._subs);
            if (subs.length) s.emit('subscribe', [subs], null);
            if (this._objectsRequired) s.emit('subscribeObjects', ['*'], null);
            var osubs = Object.keys(this._objSubs);
            if (osubs.length) s.emit('subscribeObjects', [osubs], null);
            this._send('authEnabled', [], function (args) {
                if (s !== self._socket || !s.connected) return;
                if (!args.err) {
                    self._authEnabled = !!args[0];
                    self._user = args[1] || null;
                }
                self._ready = true;
                self._isConnected = true;
                self._flush();
                self._cb('onConnChange', true);
            });
        },

        _onDisconnect: function () {
            var was = this._isConnected;
            this._ready = false;
            this._isConnected = false;
            if (was) this._cb('onConnChange', false);
        },

        _onAuthFailure: function (msg) {
            var was = this._isConnected;
            this._ready = false;
            this._isConnected = false;
            if (was) this._cb('onConnChange', false);
            this._socket.close();
            // queued commands cannot be sent until the user logs in
            this._failQueue('notConnectedError');
            if (!this._authError) {
                this._authError = true;
                if (this._connCallbacks.onAuthError) {
                    this._cb('onAuthError', msg || AUTH_ERROR);
                } else {
                    this._cb('onError', msg || AUTH_ERROR);
                }
            }
        },

        _onEvent: function (name, args, ack) {
            switch (name) {
                case 'stateChange': {
                    var id = args[0];
                    var state = args[1];
                    if (!id || state === null || typeof state !== 'object') return;
                    if (this._onControl(id, state)) return;
                    this._cb('onUpdate', id, state);
                    break;
                }
                case 'objectChange':
                    this._cb('onObjectChange', args[0], args[1]);
                    break;
                case 'fileChange':
                    this._cb('onFileChange', args[0], args[1], args[2]);
                    break;
                case 'reauthenticate':
                    if (this._socket.connected) {
                        this._onAuthFailure('reauthenticate');
                    } else {
                        // a refusal at connect time: the CONNECT_ERROR with the reason follows
                        var self = this;
                        var s = this._socket;
                        setTimeout(function () {
                            if (s === self._socket && !s.connected && !self._authError) self._onAuthFailure('reauthenticate');
                        }, 300);
                    }
                    break;
                case 'permissionError':
                    if (this._connCallbacks.onError) {
                        this._cb('onError', args[0]);
                    } else {
                        console.log('permissionError', args[0]);
                    }
                    break;
                default:
                    this._cb('onEvent', name, args);
            }
            if (ack) ack();
        },

        // vis command channel <namespace>.control.{instance,data,command}
        _onControl: function (id, state) {
            var ns = this.namespace + '.control.';
            if (id.indexOf(ns) !== 0) return false;
            var what = id.slice(ns.length);
            if (what === 'data') {
                this._cmdData = state.val;
            } else if (what === 'instance') {
                this._cmdInstance = state.val;
            } else if (what === 'command' && this._connCallbacks.onCommand) {
                if (state.ack) return true;
                var val = state.val;
                if (typeof val === 'string' && val.charAt(0) === '{' && val.charAt(val.length - 1) === '}') {
                    try {
                        val = JSON.parse(val);
                    } catch (e) { /* keep the string */ }
                }
                var handled = val && val.instance ?
                    this._connCallbacks.onCommand(val.instance, val.command, val.data) :
                    this._connCallbacks.onCommand(this._cmdInstance, val, this._cmdData);
                if (handled) this.setState(id, { val: '', ack: true });
            } else {
                return false;
            }
            return true;
        },

        /*
         * _send emits a command whose ack is expected. done(args) gets the ack arguments, or on
         * failure an empty array with args.err = 'timeout' | 'notConnectedError'.
         */
        _send: function (name, args, done, timeout) {
            var s = this._socket;
            var finished = false;
            var timer = null;
            var id = null;
            timeout = timeout || this._connOptions.timeout || DEFAULT_TIMEOUT;
            function finish(res) {
                if (finished) return;
                finished = true;
                clearTimeout(timer);
                try {
                    done(res);
                } catch (e) {
                    console.error('conn.js: callback of ' + name + ' failed', e);
                }
            }
            function fail(err) {
                var r = [];
                r.err = err;
                finish(r);
            }
            if (!s || !s.connected) {
                fail('notConnectedError');
                return;
            }
            id = s.emit(name, args, {
                done: finish,
                fail: function () {
                    fail('notConnectedError');
                },
            });
            timer = setTimeout(function () {
                s.forget(id);
                fail('timeout');
            }, timeout);
        },

        /*
         * _cmd runs a command for the public API: sent at once when ready, queued while
         * disconnected (until its timeout: 'notConnectedError'), 'timeout' when unanswered.
         * cb may be null for fire-and-forget commands.
         */
        _cmd: function (name, args, cb, timeout) {
            var self = this;
            timeout = timeout || this._connOptions.timeout || DEFAULT_TIMEOUT;
            if (!this._socket) {
                if (cb) {
                    var r0 = [];
                    r0.err = 'notConnectedError';
                    setTimeout(function () { cb(r0); }, 0);
                }
                return;
            }
            if (this._ready && this._socket.connected) {
                if (cb) {
                    this._send(name, args, cb, timeout);
                } else {
                    this._socket.emit(name, args, null);
                }
                return;
            }
            if (!this._connOptions.queueWhileDisconnected || this._authError) {
                if (cb) {
                    var r1 = [];
                    r1.err = 'notConnectedError';
                    setTimeout(function () { cb(r1); }, 0);
                }
                return;
            }
            var item = { name: name, args: args, cb: cb, deadline: Date.now() + timeout };
            item.timer = setTimeout(function () {
                var i = self._queue.indexOf(item);
                if (i >= 0) self._queue.splice(i, 1);
                if (cb) {
                    var r = [];
                    r.err = 'notConnectedError';
                    cb(r);
                }
            }, timeout);
            this._queue.push(item);
        },

        _flush: function () {
            var q = this._queue;
            this._queue = [];
            for (var i = 0; i < q.length; i++) {
                clearTimeout(q[i].timer);
                this._cmd(q[i].name, q[i].args, q[i].cb, Math.max(1, q[i].deadline - Date.now()));
            }
        },

        _failQueue: function (err) {
            var q = this._queue;
            this._queue = [];
            q.forEach(function (item) {
                clearTimeout(item.timer);
                if (item.cb) {
                    var r = [];
                    r.err = err;
                    item.cb(r);
                }
            });
        },

        // errFirst adapts an err-first callback to _cmd's done(args).
        _errFirst: function (cb, map) {
            return function (args) {
                if (!cb) return;
                if (args.err) return cb(args.err);
                if (map) return map(args);
                cb.apply(null, args);
            };
        },

        /* ---------- authentication ---------- */

        /** login(user, password, cb(err, user)): POST /login, then reconnect with the new cookie. */
        login: function (user, password, cb) {
            var self = this;
            cb = cb || function () {};
            fetch(this._baseUrl + '/login', {
                method: 'POST',
                credentials: 'include',
                headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
                body: JSON.stringify({ username: user, password: password }),
            }).then(function (res) {
                return res.json().catch(function () {
                    return {};
                }).then(function (body) {
                    if (!res.ok || !body || body.ok === false) {
                        cb((body && body.error) || (res.status === 401 ? AUTH_ERROR : 'HTTP ' + res.status));
                        return;
                    }
                    self._authError = false;
                    self.reconnect();
                    cb(null, body.user || user);
                });
            }, function (err) {
                cb(String(err && err.message || err));
            });
        },

        /** logout(cb(err)): ends the session on the server and clears the cookie. */
        logout: function (cb) {
            var self = this;
            var done = function (err) {
                fetch(self._baseUrl + '/logout', {
                    method: 'POST',
                    credentials: 'include',
                    headers: { Accept: 'application/json' },
                }).then(function () {
                    cb && cb(err || null);
                }, function (e) {
                    cb && cb(err || String(e && e.message || e));
                });
            };
            if (this._ready) {
                this._send('logout', [], function (args) {
                    done(args.err || null);
                });
            } else {
                done(null);
            }
        },

        /** reconnect(): drop the current connection and connect again at once. */
        reconnect: function () {
            if (!this._socket) return;
            this._socket.close();
            this._socket.attempt = 0;
            this._socket.open();
        },

        /** disconnect(): close the connection and stop reconnecting. */
        disconnect: function () {
            if (this._socket) this._socket.close();
        },

        authEnabled: function (cb) {
            this._cmd('authEnabled', [], this._errFirst(cb, function (a) {
                cb(null, !!a[0], a[1]);
            }));
        },
        getLoggedUser: function (cb) {
            this._cmd('authEnabled', [], function (a) {
                if (cb) cb(a.err ? false : a[0], a[1]);
            });
        },
        getVersion: function (cb) {
            this._cmd('getVersion', [], function (a) {
                if (cb) cb(a.err ? a.err : a[1] || a[0]);
            });
        },

        /* ---------- states ---------- */

        subscribe: function (idOrArray, cb) {
            var self = this;
            [].concat(idOrArray).forEach(function (p) {
                if (p) self._subs[p] = true;
            });
            this._cmd('subscribe', [idOrArray], this._errFirst(cb));
        },
        unsubscribe: function (idOrArray, cb) {
            var self = this;
            [].concat(idOrArray).forEach(function (p) {
                delete self._subs[p];
            });
            this._cmd('unsubscribe', [idOrArray], this._errFirst(cb));
        },
        subscribeObjects: function (idOrArray, cb) {
            var self = this;
            [].concat(idOrArray).forEach(function (p) {
                if (p) self._objSubs[p] = true;
            });
            this._cmd('subscribeObjects', [idOrArray], this._errFirst(cb));
        },
        unsubscribeObjects: function (idOrArray, cb) {
            var self = this;
            [].concat(idOrArray).forEach(function (p) {
                delete self._objSubs[p];
            });
            this._cmd('unsubscribeObjects', [idOrArray], this._errFirst(cb));
        },

        /** getStates(IDs|pattern|null, cb(err, {id: state})) */
        getStates: function (IDs, cb) {
            if (typeof IDs === 'function') {
                cb = IDs;
                IDs = null;
            }
            this._cmd('getStates', [IDs === undefined ? null : IDs], function (a) {
                if (!cb) return;
                if (a.err || a[0] || !a[1]) return cb(a.err || a[0] || 'Authentication required');
                cb(null, a[1]);
            });
        },
        getState: function (id, cb) {
            this._cmd('getState', [id], this._errFirst(cb));
        },
        /** setState(id, value | {val, ack, ...}, cb(err)); a plain value is written with ack=false. */
        setState: function (id, value, cb) {
            this._cmd('setState', [id, value], cb ? this._errFirst(cb) : null);
        },

        /* ---------- objects ---------- */

        getObject: function (id, useCache, cb) {
            if (typeof id === 'function') {
                cb = id;
                id = null;
            }
            if (typeof useCache === 'function') cb = useCache;
            if (!id) return cb && cb('no id given');
            this._cmd('getObject', [id], this._errFirst(cb));
        },
        /** getObjects(useCache?, cb(err, {id: obj})): the web object set plus enums and instances. */
        getObjects: function (useCache, cb) {
            var self = this;
            if (typeof useCache === 'function') cb = useCache;
            cb = cb || function () {};
            this._cmd('getObjects', [], function (a) {
                if (a.err || a[0]) return cb(a.err || a[0]);
                var data = a[1] || {};
                var views = [['enum', 'enum.'], ['instance', 'system.adapter.'], ['channel', ''], ['device', '']];
                var next = function (i) {
                    if (i >= views.length) {
                        var inst = data['system.adapter.' + self.namespace];
                        if (inst && inst.native && inst.native.defaultFileMode) self._defaultMode = inst.native.defaultFileMode;
                        return cb(null, data);
                    }
                    var v = views[i];
                    self.getObjectView('system', v[0], { startkey: v[1], endkey: v[1] + '\u9999' }, function (err, res) {
                        if (err) return cb(err);
                        (res && res.rows || []).forEach(function (r) {
                            data[r.id] = r.value;
                        });
                        next(i + 1);
                    });
                };
                next(0);
            });
        },
        getObjectView: function (design, search, params, cb) {
            this._cmd('getObjectView', [design, search, params || {}], this._errFirst(cb));
        },
        setObject: function (id, obj, cb) {
            this._cmd('setObject', [id, obj], this._errFirst(cb));
        },
        delObject: function (id, cb) {
            this._cmd('delObject', [id, null], cb ? this._errFirst(cb) : null);
        },
        /** getChildren(id, useCache?, cb(err, [direct child ids])) */
        getChildren: function (id, useCache, cb) {
            var self = this;
            if (typeof useCache === 'function') cb = useCache;
            if (!id) return cb && cb('getChildren: no id given');
            var data = {};
            var types = ['device', 'channel', 'state'];
            var next = function (i) {
                if (i >= types.length) {
                    var depth = id.split('.').length + 1;
                    var list = Object.keys(data).filter(function (k) {
                        return k.split('.').length === depth;
                    }).sort();
                    return cb(null, list);
                }
                self.getObjectView('system', types[i], { startkey: id + '.', endkey: id + '.\u9999' }, function (err, res) {
                    if (err) return cb(err);
                    (res && res.rows || []).forEach(function (r) {
                        data[r.id] = r.value;
                    });
                    next(i + 1);
                });
            };
            next(0);
        },
        getGroups: function (groupName, useCache, cb) {
            if (typeof groupName === 'function') {
                cb = groupName;
                groupName = '';
            }
            if (typeof useCache === 'function') cb = useCache;
            groupName = typeof groupName === 'string' ? groupName : '';
            this.getObjectView('system', 'group', { startkey: 'system.group.' + groupName, endkey: 'system.group.' + groupName + '\u9999' }, function (err, res) {
                if (err) return cb(err);
                var out = {};
                (res && res.rows || []).forEach(function (r) {
                    out[r.value._id || r.id] = r.value;
                });
                cb(null, out);
            });
        },
        getEnums: function (enumName, useCache, cb) {
            if (typeof enumName === 'function') {
                cb = enumName;
                enumName = '';
            }
            if (typeof useCache === 'function') cb = useCache;
            var prefix = 'enum.' + (typeof enumName === 'string' && enumName ? enumName + '.' : '');
            this.getObjectView('system', 'enum', { startkey: prefix, endkey: prefix + '\u9999' }, function (err, res) {
                if (err) return cb(err);
                var out = {};
                (res && res.rows || []).forEach(function (r) {
                    out[r.value._id || r.id] = r.value;
                });
                cb(null, out);
            });
        },
        /** getConfig(useCache?, cb(err, system.config common)) */
        getConfig: function (useCache, cb) {
            if (typeof useCache === 'function') cb = useCache;
            this._cmd('getObject', ['system.config'], function (a) {
                if (!cb) return;
                if (a.err) return cb(a.err);
                if (a[1] && a[1].common) return cb(null, a[1].common);
                cb(a[0] || 'Cannot read language');
            });
        },

        /* ---------- files ---------- */

        /** readFile(name, cb(err, data, fileName, mimeType)); binary files arrive as ArrayBuffer. */
        readFile: function (filename, cb) {
            if (!cb) throw new Error('No callback set');
            var p = splitName(filename, this.namespace);
            this._cmd('readFile', p, function (a) {
                if (a.err) return cb(a.err, null, p[1]);
                cb(a[0] || null, a[1], p[1], a[2]);
            });
        },
        /** readFile64(name, cb(err, {mime, data: base64}, fileName)) */
        readFile64: function (filename, cb) {
            var self = this;
            if (!cb) throw new Error('No callback set');
            var p = splitName(filename, this.namespace);
            this._cmd('readFile64', p, function (a) {
                if (a.err) return cb(a.err, { mime: self.getMimeType(filename) }, p[1]);
                var res = { mime: a[2] || self.getMimeType(filename) };
                if (a[1]) res.data = a[1];
                cb(a[0] || null, res, p[1]);
            });
        },
        /**
         * writeFile(name, data, mode?, cb(err)): strings as they are, ArrayBuffer/typed arrays/Blob
         * as binary, other objects as JSON (indent 2). mode: number, or true for the default mode.
         */
        writeFile: function (filename, data, mode, cb) {
            if (typeof mode === 'function') {
                cb = mode;
                mode = null;
            }
            if (data !== null && typeof data === 'object' && !isBinary(data)) data = JSON.stringify(data, null, 2);
            var p = splitName(filename, this.namespace);
            var opts = typeof mode === 'number' ? { mode: mode } : mode ? { mode: this._defaultMode } : {};
            this._cmd('writeFile', [p[0], p[1], data, opts], this._errFirst(cb));
        },
        /** writeFile64(name, base64, cb(err)) */
        writeFile64: function (filename, data, cb) {
            var p = splitName(filename, this.namespace);
            this._cmd('writeFile64', [p[0], p[1], data, { mode: this._defaultMode }], this._errFirst(cb));
        },
        /** readDir(dir, cb(err, entries)); '/' lists the namespaces. */
        readDir: function (dirname, cb) {
            var p = splitName(dirname || '/', this.namespace);
            this._cmd('readDir', [p[0], p[1], { filter: true }], this._errFirst(cb));
        },
        mkdir: function (dirname, cb) {
            var p = splitName(dirname, this.namespace);
            this._cmd('mkdir', p, this._errFirst(cb));
        },
        unlink: function (name, cb) {
            var p = splitName(name, this.namespace);
            this._cmd('unlink', p, this._errFirst(cb));
        },
        renameFile: function (oldname, newname, cb) {
            var a = splitName(oldname, this.namespace);
            var b = splitName(newname, this.namespace);
            this._cmd('rename', [a[0], a[1], b[1]], this._errFirst(cb));
        },
        chmodProject: function (projectDir, mode, cb) {
            this._cmd('chmodFile', [this.namespace, projectDir + '*', { mode: mode }], this._errFirst(cb));
        },
        readProjects: function (cb) {
            var self = this;
            this.readDir('/' + this.namespace, function (err, dirs) {
                if (err) return cb(err, []);
                var folders = (dirs || []).filter(function (d) {
                    return d.isDir;
                });
                var result = [];
                var left = folders.length;
                if (!left) return cb(null, result);
                folders.forEach(function (d) {
                    self.readDir('/' + self.namespace + '/' + d.file, function (e, files) {
                        (files || []).forEach(function (f) {
                            if (f.file === 'vis-views.json' && (!f.acl || f.acl.read)) {
                                result.push({ name: d.file, readOnly: !!(f.acl && !f.acl.write), mode: f.acl ? f.acl.permissions : 0 });
                            }
                        });
                        err = err || e;
                        if (!--left) cb(err || null, result);
                    });
                });
            });
        },
        getMimeType: function (name) {
            var m = /\.([^.\/]+)$/.exec(String(name || '').toLowerCase());
            var types = {
                css: 'text/css', bmp: 'image/bmp', png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg',
                gif: 'image/gif', tif: 'image/tiff', js: 'application/javascript', html: 'text/html',
                htm: 'text/html', json: 'application/json', xml: 'text/xml', svg: 'image/svg+xml',
                txt: 'text/plain', woff: 'application/font-woff', ttf: 'application/font-sfnt',
                wav: 'audio/wav', mp3: 'audio/mpeg', webp: 'image/webp',
            };
            return (m && types[m[1]]) || 'text/javascript';
        },

        /* ---------- messaging and misc ---------- */

        /** sendTo(instance, command, message, cb(result)); failure → cb({error}) */
        sendTo: function (instance, command, payload, cb) {
            this._cmd('sendTo', [instance, command, payload], cb ? function (a) {
                cb(a.err ? { error: a.err } : a[0]);
            } : null);
        },
        sendCommand: function (instance, command, data, ack) {
            this.setState(this.namespace + '.control.instance', { val: instance || 'notdefined', ack: true });
            this.setState(this.namespace + '.control.data', { val: data, ack: true });
            this.setState(this.namespace + '.control.command', { val: command, ack: ack === undefined ? true : ack });
        },
        /** getHistory(id, options, cb(err, values, step, sessionId)); options.timeout default 2000 ms */
        getHistory: function (id, options, cb) {
            options = options || {};
            options.timeout = options.timeout || 2000;
            this._cmd('getHistory', [id, options], this._errFirst(cb), options.timeout);
        },
        /** httpGet(url, cb(err, body, {status, statusText})): fetched by the server; err null on success. */
        httpGet: function (url, cb) {
            this._cmd('httpGet', [url], function (a) {
                if (!cb) return;
                if (a.err) return cb(a.err);
                var body = a[2];
                if (body && typeof TextDecoder !== 'undefined' && (body instanceof ArrayBuffer || ArrayBuffer.isView(body))) {
                    body = new TextDecoder().decode(body);
                }
                cb(a[0] || null, body, a[1]);
            });
        },
        /**
         * command(name, args[], cb(...ackArgs)): any other server command, with the same queueing
         * and timeout; on failure cb('timeout' | 'notConnectedError').
         */
        command: function (name, args, cb) {
            this._cmd(name, args || [], cb ? function (a) {
                if (a.err) return cb(a.err);
                cb.apply(null, a);
            } : null);
        },
        logError: function (errorText) {
            console.log('Error: ' + errorText);
            this._cmd('log', [String(errorText), 'error'], null);
        },
        clearCache: function () {},
    };

    global.servConn = servConn;
})(typeof window !== 'undefined' ? window : this);
