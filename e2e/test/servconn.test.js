'use strict';
// ioBroker's own legacy client, example/conn.js (servConn, what vis 1.x uses), loaded from the
// iobroker.socketio npm package and driven exactly as a vis page does. It always uses
// socket.io-client 2.5.0 (EIO3): with and without conn.js' socketForceWebSockets mode.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { useServer } = require('../lib/server');
const { connect, emitAck, ensureMeta, sleep } = require('../lib/client');
const { loadServConn } = require('../lib/servconn');
const { CALL_TIMEOUT, SUBSCRIBE_SETTLE_MS, RUN } = require('../lib/env');
const { stateObject } = require('../lib/suite');

const server = useServer();

/** Promise with a timeout around a callback-style servConn call. */
function call(what, fn) {
    return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`servConn.${what}: no callback within ${CALL_TIMEOUT} ms`)), CALL_TIMEOUT);
        fn((...args) => {
            clearTimeout(t);
            resolve(args);
        });
    });
}

/** init a servConn and wait for onConnChange(true); returns {env, updates, connChanges}. */
async function startServConn(url, name, forceWs) {
    const env = loadServConn(url);
    const updates = [];
    const connChanges = [];
    let onConnected;
    const connected = new Promise((resolve, reject) => {
        const t = setTimeout(() => {
            env.dispose(); // do not leave a socket (and conn.js timers) behind
            reject(new Error(`servConn ${name}: no onConnChange(true) within ${CALL_TIMEOUT} ms\n${env.logs.join('\n')}`));
        }, CALL_TIMEOUT);
        onConnected = () => {
            clearTimeout(t);
            resolve();
        };
    });
    env.servConn.init(
        {
            name,
            connLink: url,
            socketForceWebSockets: forceWs,
            mayReconnect: () => false, // no reconnect loop in tests
        },
        {
            onConnChange: isConnected => {
                connChanges.push(isConnected);
                if (isConnected) onConnected();
            },
            onUpdate: (id, state) => updates.push([id, state]),
            onRefresh: () => {},
            onAuth: () => {},
            onError: err => env.logs.push(`onError: ${JSON.stringify(err)}`),
            onAuthError: err => env.logs.push(`onAuthError: ${JSON.stringify(err)}`),
        },
        false, // objectsRequired
    );
    await connected;
    return { env, updates, connChanges, sc: env.servConn };
}

async function waitUntil(what, pred, timeout = CALL_TIMEOUT) {
    const end = Date.now() + timeout;
    while (!pred()) {
        if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
        await sleep(20);
    }
}

for (const forceWs of [false, true]) {
    const tag = forceWs ? 'ws' : 'poll';
    describe(`conn.js servConn (${forceWs ? 'socketForceWebSockets' : 'polling+upgrade'})`, { timeout: 60000 }, () => {
        const P = `e2e.0.${RUN}.conn_${tag}`;
        const DIR = `e2e-${RUN}-${tag}`; // vis project folder inside vis.0
        let admin; // a plain socket.io client to prepare data and to write "from elsewhere"
        let A;
        let B;
        before(async () => {
            admin = await connect(server.url, { client: 'sio2', transport: forceWs ? 'websocket' : 'polling' });
            await ensureMeta(admin, 'vis.0'); // vis' project namespace; no server creates it by itself
            await emitAck(admin, 'setObject', `${P}.temp`, stateObject('temperature'));
            await emitAck(admin, 'setState', `${P}.temp`, { val: 21.5, ack: true });
            A = await startServConn(server.url, 'e2e', forceWs);
            B = await startServConn(server.url, 'e2e-other', forceWs);
            // conn.js sends subscribe('*') without an ack right after authenticate
            if (SUBSCRIBE_SETTLE_MS) await sleep(SUBSCRIBE_SETTLE_MS);
        });
        after(() => {
            A && A.env.dispose();
            B && B.env.dispose();
            admin && admin.close();
        });

        it('init → onConnChange(true), user "admin", no page reload', async () => {
            assert.deepEqual(A.connChanges, [true]);
            assert.equal(A.sc.getIsConnected(), true);
            assert.equal(A.sc.getUser(), 'admin');
            assert.equal(A.sc.getIsLoginRequired(), null);
            assert.equal(A.env.reloads, 0);
            const sock = A.sc._socket;
            assert.equal(sock.io.engine.transport.name === 'websocket' || !forceWs, true);
        });

        it('getVersion → version string', async () => {
            const [version] = await call('getVersion', cb => A.sc.getVersion(cb));
            assert.equal(typeof version, 'string');
            assert.ok(version.length > 0);
        });

        it('getStates([ids]) and getStates(null)', async () => {
            const [err, map] = await call('getStates', cb => A.sc.getStates([`${P}.temp`, `${P}.missing`], cb));
            assert.equal(err, null);
            assert.equal(map[`${P}.temp`].val, 21.5);
            assert.equal(map[`${P}.temp`].ack, true);
            assert.equal(map[`${P}.missing`], null);
            const [err2, all] = await call('getStates', cb => A.sc.getStates(null, cb));
            assert.equal(err2, null);
            assert.equal(all[`${P}.temp`].val, 21.5);
        });

        it('setState → onUpdate at another servConn (auto-subscribed "*")', async () => {
            const id = `${P}.temp`;
            const [err, ackId] = await call('setState', cb => A.sc.setState(id, 22, cb));
            assert.equal(err, null);
            assert.equal(ackId, id);
            await waitUntil(`onUpdate ${id}=22 at B`, () => B.updates.some(([i, s]) => i === id && s.val === 22));
            const [, st] = B.updates.find(([i, s]) => i === id && s.val === 22);
            assert.equal(st.ack, false, 'vis writes commands: plain value → ack false');
            // and a write by a non-servConn client reaches both
            await emitAck(admin, 'setState', id, { val: 23, ack: true });
            await waitUntil(`onUpdate ${id}=23 at A and B`, () =>
                [A, B].every(x => x.updates.some(([i, s]) => i === id && s.val === 23 && s.ack === true)),
            );
        });

        it('getObjects → vis object map (objects, enums, instances, channels, devices)', async () => {
            const [err, data] = await call('getObjects', cb => A.sc.getObjects(cb));
            assert.equal(err, null);
            assert.equal(data[`${P}.temp`].common.name, 'temperature');
            assert.ok(data['system.config'], 'system.config in the map');
        });

        it('writeFile (object → JSON) / readFile / readDir / readProjects', async () => {
            const views = { main: { settings: { style: {} }, widgets: { w00001: { tpl: 'tplValueFloat' } } } };
            const [err] = await call('writeFile', cb => A.sc.writeFile(`${DIR}/vis-views.json`, views, cb));
            assert.equal(err, null);
            const [err1, text, file, mime] = await call('readFile', cb => A.sc.readFile(`${DIR}/vis-views.json`, cb));
            assert.equal(err1, null);
            assert.equal(file, `${DIR}/vis-views.json`);
            assert.equal(mime, 'application/json');
            assert.deepEqual(JSON.parse(text), views);
            assert.equal(text, JSON.stringify(views, null, 2));
            // absolute form "/<adapter>/<path>"
            const [err2, text2] = await call('readFile', cb => A.sc.readFile(`/vis.0/${DIR}/vis-views.json`, cb));
            assert.equal(err2, null);
            assert.equal(text2, text);

            const [err3, list] = await call('readDir', cb => A.sc.readDir(`/vis.0/${DIR}`, cb));
            assert.equal(err3, null);
            const entry = list.find(e => e.file === 'vis-views.json');
            assert.ok(entry, 'vis-views.json listed');
            assert.equal(entry.isDir, false);
            assert.equal(entry.acl.read, true);
            assert.equal(entry.acl.write, true);
            assert.equal(typeof entry.acl.permissions, 'number');

            const [err4, projects] = await call('readProjects', cb => A.sc.readProjects(cb));
            assert.ok(!err4, `readProjects error ${JSON.stringify(err4)}`);
            const project = projects.find(p => p.name === DIR);
            assert.ok(project, `project ${DIR} found by readProjects`);
            assert.equal(project.readOnly, false);
        });

        it('readFile of a missing file → "Not exists"', async () => {
            const [err] = await call('readFile', cb => A.sc.readFile(`${DIR}/missing.json`, cb));
            assert.equal(err, 'Not exists');
        });

        it('mkdir / renameFile / unlink through servConn', async () => {
            assert.deepEqual(await call('mkdir', cb => A.sc.mkdir(`/vis.0/${DIR}/img`, cb)), [null]);
            const [, list] = await call('readDir', cb => A.sc.readDir(`/vis.0/${DIR}`, cb));
            assert.ok(list.some(e => e.file === 'img' && e.isDir), 'img folder listed');
            await call('writeFile', cb => A.sc.writeFile(`${DIR}/img/a.css`, '.a{}', cb));
            assert.deepEqual(await call('renameFile', cb => A.sc.renameFile(`/vis.0/${DIR}/img/a.css`, `/vis.0/${DIR}/img/b.css`, cb)), [null]);
            const [, text, , mime] = await call('readFile', cb => A.sc.readFile(`${DIR}/img/b.css`, cb));
            assert.equal(text, '.a{}');
            assert.equal(mime, 'text/css');
            assert.deepEqual(await call('unlink', cb => A.sc.unlink(`/vis.0/${DIR}/img`, cb)), [null]);
            const [err] = await call('readFile', cb => A.sc.readFile(`${DIR}/img/b.css`, cb));
            assert.equal(err, 'Not exists');
        });

        it('no page reload was requested and no error callback fired', () => {
            for (const x of [A, B]) {
                assert.equal(x.env.reloads, 0);
                assert.ok(!x.env.logs.some(l => l.startsWith('onError') || l.startsWith('onAuthError')), x.env.logs.join('\n'));
            }
        });
    });
}
