'use strict';
// A small stand-in for brokerd, for developing conn.js while the real routes are not wired:
// socket.io v4 server (EIO4 + EIO3) with the command subset the dashboard and the tests use,
// in-memory stores, POST /login (cookie access_token), and the web/ files at /, /conn.js, ….
// Used only when WEB_TEST_SERVER=mock; the tests normally run against the real brokerd binary.

const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { Server } = require('socket.io');

const { WEB_DIR, STATIC } = require('./front'); // the web/ files, as the front serves them
const TEXT_EXT = /\.(txt|json|js|css|html?|svg|xml|md)$/i;

function patternRe(p) {
    return new RegExp('^' + String(p).split('*').map(s => s.replace(/[-/\\^$+?.()|[\]{}]/g, '\\$&')).join('.*') + '$');
}

function mimeOf(name) {
    const ext = (path.extname(name) || '').slice(1).toLowerCase();
    return { txt: 'text/plain', json: 'application/json', js: 'application/javascript', css: 'text/css', html: 'text/html',
        svg: 'image/svg+xml', png: 'image/png', jpg: 'image/jpeg', bin: 'application/octet-stream' }[ext] || (TEXT_EXT.test(name) ? 'text/plain' : 'application/octet-stream');
}

/** start({port, auth, users: {name: password}, data}) → {url, port, stop(), data} */
async function start(opts = {}) {
    const data = opts.data || { states: new Map(), objects: new Map(), files: new Map() };
    const users = opts.users || {};
    const sessions = new Map();

    const srv = http.createServer((req, res) => {
        const u = new URL(req.url, 'http://x');
        if (req.method === 'GET' && STATIC[u.pathname]) {
            const [file, type] = STATIC[u.pathname];
            res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-cache' });
            res.end(fs.readFileSync(path.join(WEB_DIR, file)));
            return;
        }
        if (u.pathname === '/name') return res.end('brokerd.0');
        if (u.pathname === '/auth') return res.end(JSON.stringify({ auth: !!opts.auth }));
        if (req.method === 'POST' && u.pathname === '/login') {
            let body = '';
            req.on('data', c => (body += c));
            req.on('end', () => {
                let j = {};
                try {
                    j = JSON.parse(body);
                } catch {
                    res.writeHead(400, { 'Content-Type': 'application/json' });
                    return res.end(JSON.stringify({ ok: false, error: 'invalid request' }));
                }
                if (!j.username || users[j.username] !== j.password) {
                    res.writeHead(401, { 'Content-Type': 'application/json' });
                    return res.end(JSON.stringify({ ok: false, error: 'Invalid password or user name' }));
                }
                const t = crypto.randomBytes(16).toString('hex');
                sessions.set(t, j.username);
                res.writeHead(200, { 'Content-Type': 'application/json', 'Set-Cookie': `access_token=${t}; Path=/; HttpOnly; SameSite=Strict` });
                res.end(JSON.stringify({ ok: true, user: j.username }));
            });
            return;
        }
        if (u.pathname === '/logout') {
            res.writeHead(200, { 'Content-Type': 'application/json', 'Set-Cookie': 'access_token=; Path=/; Max-Age=0' });
            return res.end('{"ok":true}');
        }
        if (u.pathname.startsWith('/socket.io/')) return; // socket.io handles it
        res.writeHead(404);
        res.end('Not found');
    });

    const io = new Server(srv, { allowEIO3: true, maxHttpBufferSize: 100e6, pingInterval: 5000, pingTimeout: 5000 });
    io.use((socket, next) => {
        if (!opts.auth) {
            socket.data.user = 'admin';
            return next();
        }
        const q = socket.handshake.query;
        if (q.user) {
            if (users[q.user] === q.pass) {
                socket.data.user = q.user;
                return next();
            }
        } else {
            const m = /(?:^|;\s*)access_token=([^;]+)/.exec(socket.handshake.headers.cookie || '');
            if (m && sessions.has(m[1])) {
                socket.data.user = sessions.get(m[1]);
                return next();
            }
        }
        socket.emit('reauthenticate');
        next(new Error('Invalid password or user name'));
    });

    const subs = new Map(); // socket → {state: Set, object: Set}
    function publish(kind, id, val) {
        for (const [s, sets] of subs) {
            for (const p of sets[kind]) {
                if (patternRe(p).test(id)) {
                    s.emit(kind === 'state' ? 'stateChange' : 'objectChange', id, val);
                    break;
                }
            }
        }
    }
    function setState(id, st, user) {
        const prev = data.states.get(id);
        if (st === null || typeof st !== 'object' || Buffer.isBuffer(st)) st = { val: st };
        const now = Date.now();
        const s = { val: 'val' in st ? st.val : prev ? prev.val : null, ack: !!st.ack, ts: st.ts || now, q: st.q || 0,
            from: st.from || 'system.adapter.brokerd.0', user: 'system.user.' + user };
        s.lc = prev && JSON.stringify(prev.val) === JSON.stringify(s.val) ? prev.lc : s.ts;
        data.states.set(id, s);
        publish('state', id, s);
    }
    const fileKey = (ns, name) => ns + '\u0000' + String(name || '').replace(/^\/+/, '');

    io.on('connection', socket => {
        const user = socket.data.user;
        const mine = { state: new Set(), object: new Set() };
        subs.set(socket, mine);
        socket.on('disconnect', () => subs.delete(socket));
        const on = (name, fn) => socket.on(name, (...args) => {
            const cb = typeof args[args.length - 1] === 'function' ? args.pop() : () => {};
            fn(args, cb);
        });
        on('name', (a, cb) => cb());
        on('authenticate', (a, cb) => cb(true, opts.auth ? true : null));
        on('authEnabled', (a, cb) => cb(!!opts.auth, user));
        on('getVersion', (a, cb) => cb(null, '0.0.0-mock', 'brokerd'));
        on('log', () => {});
        on('logout', (a, cb) => cb());
        for (const [cmd, kind, add] of [['subscribe', 'state', true], ['unsubscribe', 'state', false],
            ['subscribeObjects', 'object', true], ['unsubscribeObjects', 'object', false]]) {
            on(cmd, (a, cb) => {
                for (const p of [].concat(a[0])) add ? mine[kind].add(p) : mine[kind].delete(p);
                cb(null);
            });
        }
        on('getStates', (a, cb) => {
            const out = {};
            if (Array.isArray(a[0])) {
                for (const id of a[0]) out[id] = data.states.get(id) || null;
            } else {
                const re = patternRe(a[0] || '*');
                for (const [id, o] of data.objects) if (o.type === 'state' && re.test(id)) out[id] = data.states.get(id) || null;
            }
            cb(null, out);
        });
        on('getState', (a, cb) => cb(null, data.states.get(a[0]) || null));
        on('setState', (a, cb) => {
            setState(a[0], a[1], user);
            cb(null, a[0]);
        });
        on('getObject', (a, cb) => cb(null, data.objects.get(a[0]) || null));
        on('getObjects', (a, cb) => {
            const out = {};
            for (const [id, o] of data.objects) if (['state', 'channel', 'device', 'enum'].includes(o.type) || id === 'system.config') out[id] = o;
            cb(null, out);
        });
        on('setObject', (a, cb) => {
            const o = { ...a[1], _id: a[0] };
            data.objects.set(a[0], o);
            publish('object', a[0], o);
            cb(null, { id: a[0] });
        });
        on('getObjectView', (a, cb) => {
            const p = a[2] || {};
            const sk = p.startkey || '';
            const ek = p.endkey || '\u9999';
            const rows = [];
            for (const [id, o] of data.objects) if (o.type === a[1] && id >= sk && id <= ek) rows.push({ id, value: o });
            cb(null, { rows });
        });
        on('sendTo', () => {}); // like a silent instance: never answers
        on('readDir', (a, cb) => {
            if (!a[0]) {
                const ns = new Set();
                for (const k of data.files.keys()) ns.add(k.split('\u0000')[0]);
                return cb(null, [...ns].sort().map(file => ({ file, stats: {}, isDir: true })));
            }
            const o = data.objects.get(a[0]);
            if (!o || o.type !== 'meta') return cb(`${a[0]} is not an object of type "meta"`);
            const dir = String(a[1] || '').replace(/^\/+|\/+$/g, '');
            const pre = dir ? dir + '/' : '';
            const seen = new Map();
            for (const [k, f] of data.files) {
                const [ns, name] = k.split('\u0000');
                if (ns !== a[0] || !name.startsWith(pre)) continue;
                const rest = name.slice(pre.length);
                const i = rest.indexOf('/');
                if (i >= 0) seen.set(rest.slice(0, i), { file: rest.slice(0, i), stats: {}, isDir: true });
                else if (rest !== '_data.json') {
                    seen.set(rest, { file: rest, stats: { size: f.data.length }, isDir: false,
                        acl: { owner: 'system.user.admin', ownerGroup: 'system.group.administrator', permissions: 0x644, read: true, write: true },
                        modifiedAt: f.mtime, createdAt: f.mtime });
                }
            }
            cb(null, [...seen.values()]);
        });
        on('writeFile', (a, cb) => {
            const o = data.objects.get(a[0]);
            if (!o || o.type !== 'meta') return cb(`${a[0]} is not an object of type "meta"`);
            const buf = Buffer.isBuffer(a[2]) ? a[2] : typeof a[2] === 'string' ? Buffer.from(a[2]) : null;
            if (!buf) return cb(`Parameter "data" needs to be a Buffer or a string but type "${typeof a[2]}" has been passed`);
            data.files.set(fileKey(a[0], a[1]), { data: buf, text: typeof a[2] === 'string' || TEXT_EXT.test(a[1]), mtime: Date.now() });
            cb(null);
        });
        on('writeFile64', (a, cb) => {
            data.files.set(fileKey(a[0], a[1]), { data: Buffer.from(a[2], 'base64'), text: TEXT_EXT.test(a[1]), mtime: Date.now() });
            cb(null);
        });
        on('readFile', (a, cb) => {
            const f = data.files.get(fileKey(a[0], a[1]));
            if (!f) return cb('Not exists');
            cb(null, f.text ? f.data.toString('utf8') : f.data, mimeOf(a[1]));
        });
        on('readFile64', (a, cb) => {
            const f = data.files.get(fileKey(a[0], a[1]));
            if (!f) return cb({}, '', null);
            cb(null, f.data.toString('base64'), mimeOf(a[1]));
        });
        on('mkdir', (a, cb) => {
            data.files.set(fileKey(a[0], String(a[1]).replace(/\/+$/, '') + '/_data.json'), { data: Buffer.from('{}'), text: true, mtime: Date.now() });
            cb(null);
        });
        on('unlink', (a, cb) => {
            const k = fileKey(a[0], a[1]);
            for (const key of [...data.files.keys()]) if (key === k || key.startsWith(k + '/')) data.files.delete(key);
            cb(null);
        });
        on('rename', (a, cb) => {
            const from = fileKey(a[0], a[1]);
            const to = fileKey(a[0], a[2]);
            for (const key of [...data.files.keys()]) {
                if (key === from || key.startsWith(from + '/')) {
                    data.files.set(to + key.slice(from.length), data.files.get(key));
                    data.files.delete(key);
                }
            }
            cb(null);
        });
    });

    await new Promise((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(opts.port || 0, '127.0.0.1', resolve);
    });
    const port = srv.address().port;
    return {
        url: `http://127.0.0.1:${port}`,
        port,
        data,
        stop: () => new Promise(resolve => {
            io.disconnectSockets(true);
            io.close(() => resolve());
            srv.closeAllConnections?.();
        }),
    };
}

module.exports = { start };
