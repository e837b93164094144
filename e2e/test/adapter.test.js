'use strict';
// Adapters over a socket (docs/adapters.md) with a real adapter process: the simulated lamp of
// examples/lamp (built with `go build`) against the real brokerd, driven by a socket.io-client 2
// frontend (what conn.js/vis use). Covers: command → confirmation round trip with `from`, sendTo
// routing and its error texts, alive/connected, refusal of a second connection for a live instance,
// re-subscription after a brokerd restart, an instance that never answers, and a killed adapter.
//
// The tests run in order and share one brokerd and one lamp process.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, httpGet } = require('../lib/server');
const { connect, emitAck, emitAckTimeout, recorder, subscribe, sleep } = require('../lib/client');
const { buildLamp, startLamp } = require('../lib/lamp');
const { REFERENCE, CALL_TIMEOUT } = require('../lib/env');

const INSTANCE = 'lamp.0';
const ADAPTER = `system.adapter.${INSTANCE}`;
const ALIVE = `${ADAPTER}.alive`;
const CONNECTED = `${ADAPTER}.connected`;
const ON = `${INSTANCE}.lamp1.on`; // ids the example creates (examples/lamp/README.md)
const BRIGHTNESS = `${INSTANCE}.lamp1.brightness`;
const INFO_CONNECTION = `${INSTANCE}.info.connection`;

const FRONTEND = { client: 'sio2', transport: 'polling' }; // library default, as conn.js connects
const TEST = { timeout: 20000 };
const BUILD_TIMEOUT = Number(process.env.E2E_BUILD_TIMEOUT_MS) || 120000;

/** Poll getStates(ids) on socket until pred(map) holds; bounded by timeout. Resolves the map. */
async function pollStates(socket, ids, pred, timeout, what) {
    const deadline = Date.now() + timeout;
    let map;
    for (;;) {
        const [err, m] = await emitAck(socket, 'getStates', ids);
        assert.equal(err, null);
        map = m;
        if (pred(map)) return map;
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeout} ms; last ${JSON.stringify(map)}`);
        await sleep(100);
    }
}

const stateEvent = (id, pred) => ([sid, st]) => sid === id && !!st && pred(st);

describe('adapters: the lamp example against brokerd', { skip: REFERENCE && 'adapters do not connect to the reference web adapter', timeout: 90000 }, () => {
    let srv; // brokerd
    let lampBin; // {bin, cleanup}
    let lamp; // the lamp process
    let ns; // brokerd's namespace (GET /name)
    const sockets = [];
    const extraLamps = [];

    /** A new frontend, closed after the file. */
    async function frontend(url = srv.url) {
        const s = await connect(url, FRONTEND);
        sockets.push(s);
        return s;
    }

    /** setState(id, {val, ack:false}) and wait for the command and the lamp's confirmation on rec. */
    async function roundTrip(fe, rec, id, val, confirmed = val) {
        const start = rec.items.length;
        const laterThan = (i, pred) => args => rec.items.indexOf(args) > i && pred(args);
        assert.deepEqual(await emitAck(fe, 'setState', id, { val, ack: false }), [null, id]);
        const cmd = await rec.waitFor(laterThan(start - 1, stateEvent(id, st => !st.ack && st.val === val)), CALL_TIMEOUT, `command ${id}=${val}`);
        // the confirmation must come after the command
        const iCmd = rec.items.indexOf(cmd);
        const conf = await rec.waitFor(laterThan(iCmd, stateEvent(id, st => st.ack && st.val === confirmed)), CALL_TIMEOUT, `confirmation ${id}=${confirmed}`);
        return { cmd: cmd[1], conf: conf[1] };
    }

    before(
        async () => {
            lampBin = await buildLamp(); // go build once (E2E_LAMP_BIN skips it)
        },
        { timeout: BUILD_TIMEOUT + 5000 },
    );

    before(
        async () => {
            srv = await startServer();
            ns = (await httpGet(`${srv.url}/name`)).body;
            lamp = startLamp(lampBin.bin, srv.url, { instance: INSTANCE });
            // "lamp running" is logged after its objects exist and its states are published
            await lamp.waitLog(/msg="lamp running"/, 10000, '"lamp running"');
        },
        { timeout: 30000 },
    );

    after(async () => {
        for (const s of sockets) s.close();
        for (const l of extraLamps) await l.stop('SIGKILL');
        if (lamp) {
            await lamp.stop('SIGKILL');
            if (process.env.E2E_SERVER_LOG) process.stderr.write(`--- lamp output ---\n${lamp.log()}\n`);
        }
        if (srv) await srv.stop();
        if (lampBin) lampBin.cleanup();
    });

    it('lamp round trip: the frontend sees the command (from the frontend) and then the ack=true confirmation (from the lamp)', TEST, async () => {
        const fe = await frontend();
        const rec = recorder(fe, 'stateChange');
        await subscribe(fe, `${INSTANCE}.*`);
        const { cmd, conf } = await roundTrip(fe, rec, ON, true);
        assert.equal(cmd.ack, false);
        assert.equal(cmd.from, `system.adapter.${ns}`);
        assert.equal(conf.val, true);
        assert.equal(conf.ack, true);
        assert.equal(conf.from, ADAPTER);

        // the brightness is clamped by the lamp: command 250, confirmation 100
        const b = await roundTrip(fe, rec, BRIGHTNESS, 250, 100);
        assert.equal(b.conf.from, ADAPTER);
        rec.stop();
    });

    it('sendTo is routed to the lamp and its reply reaches the callback; a missing instance fails at once', TEST, async () => {
        const fe = await frontend();
        assert.deepEqual(await emitAck(fe, 'sendTo', INSTANCE, 'status', {}), [{ on: true, brightness: 100 }]);
        const [unknown] = await emitAck(fe, 'sendTo', INSTANCE, 'bogus', {});
        assert.match(unknown && unknown.error, /unknown command/);
        assert.deepEqual(await emitAck(fe, 'sendTo', 'nothere.0', 'status', {}), [{ error: 'instance nothere.0 is not connected' }]);
    });

    it('alive and connected are true (ack) while the lamp runs', TEST, async () => {
        const fe = await frontend();
        const [err, map] = await emitAck(fe, 'getStates', [ALIVE, CONNECTED]);
        assert.equal(err, null);
        for (const id of [ALIVE, CONNECTED]) {
            assert.ok(map[id], `${id} has no value`);
            assert.equal(map[id].val, true, id);
            assert.equal(map[id].ack, true, id);
        }
    });

    it('a second process claiming lamp.0 is refused ("instance lamp.0 is already connected"); the first keeps working', TEST, async () => {
        const dup = startLamp(lampBin.bin, srv.url, { instance: INSTANCE });
        extraLamps.push(dup);
        // the SDK retries this refusal with backoff (adapter.Start), logging each attempt
        await dup.waitLog(/instance lamp\.0 is already connected/, CALL_TIMEOUT, 'the refusal');
        assert.doesNotMatch(dup.log(), /msg="lamp running"/, 'the duplicate must not get connected');

        const fe = await frontend();
        const rec = recorder(fe, 'stateChange');
        await subscribe(fe, `${INSTANCE}.*`);
        const { conf } = await roundTrip(fe, rec, BRIGHTNESS, 42);
        assert.equal(conf.from, ADAPTER);
        rec.stop();

        const st = await dup.stop('SIGTERM');
        assert.equal(st.code, 0, `duplicate lamp exit ${JSON.stringify(st)}:\n${dup.log()}`);
        assert.doesNotMatch(dup.log(), /msg="lamp running"/);
        // its refused attempts and its exit left the first connection's bookkeeping alone
        assert.deepEqual(await emitAck(fe, 'sendTo', INSTANCE, 'status', {}), [{ on: true, brightness: 42 }]);
        const [, map] = await emitAck(fe, 'getStates', [ALIVE, CONNECTED]);
        assert.equal(map[ALIVE].val, true);
        assert.equal(map[CONNECTED].val, true);
    });

    it('after a brokerd restart the lamp reconnects with its subscriptions: a new frontend command is confirmed', TEST, async t => {
        if (!srv.spawned) return t.skip('needs a spawned brokerd (BROKERD_BIN) to restart');
        const since = Date.now();
        await srv.restart(); // SIGTERM, then the same port, config and data dir
        const fe = await frontend();
        // alive is written when the instance attaches; info.connection by the lamp's OnConnect, which
        // the SDK runs after re-subscribing, so both fresh means the lamp listens again
        await pollStates(
            fe,
            [ALIVE, CONNECTED, INFO_CONNECTION],
            m => [ALIVE, CONNECTED, INFO_CONNECTION].every(id => m[id] && m[id].val === true && m[id].ts >= since),
            15000,
            'lamp reconnected (alive/connected/info.connection true, written after the restart)',
        );
        // values survived in the data dir
        const [, vals] = await emitAck(fe, 'getStates', [ON, BRIGHTNESS]);
        assert.equal(vals[ON].val, true);
        assert.equal(vals[BRIGHTNESS].val, 42);

        const rec = recorder(fe, 'stateChange');
        await subscribe(fe, `${INSTANCE}.*`);
        const { cmd, conf } = await roundTrip(fe, rec, BRIGHTNESS, 55);
        assert.equal(cmd.from, `system.adapter.${ns}`);
        assert.equal(conf.ack, true);
        assert.equal(conf.from, ADAPTER);
        rec.stop();
        assert.deepEqual(await emitAck(fe, 'sendTo', INSTANCE, 'status', {}), [{ on: true, brightness: 55 }]);
    });

    it('an instance that never answers: sendTo gets the timeout error', TEST, async t => {
        // brokerd's sendTo timeout defaults to 30 s, too long for this file; the doc names
        // `adapters.send_to_timeout`, but config/config.go has no such key yet (and the config is strict:
        // an unknown key stops brokerd). Probe the binary: run this case only when it accepts the key.
        if (!process.env.BROKERD_BIN) return t.skip('needs a spawned brokerd (BROKERD_BIN) with adapters.send_to_timeout');
        let short;
        try {
            short = await startServer({ config: ['adapters:', '  send_to_timeout: 2s'] });
        } catch (e) {
            if (/adapters|send_to_timeout/.test(e.output || '')) {
                return t.skip('brokerd has no config key adapters.send_to_timeout (default 30 s is too long for this file)');
            }
            throw e;
        }
        try {
            const mute = await connect(short.url, { client: 'sio4', transport: 'websocket' }, { auth: { instance: 'mute.0' } });
            sockets.push(mute);
            const got = recorder(mute, 'message'); // a listener that never calls the ack
            const fe = await frontend(short.url);
            const [reply] = await emitAckTimeout(2000 + CALL_TIMEOUT, fe, 'sendTo', 'mute.0', 'x', {});
            assert.match(reply && reply.error, /^timeout: instance mute\.0 did not answer within 2s$/);
            const [[msg]] = got.items;
            assert.equal(msg.command, 'x');
            assert.equal(msg.from, `system.adapter.${ns}`);
            got.stop();
        } finally {
            await short.stop();
        }
    });

    it('SIGKILL of the lamp: brokerd sees the socket close and sets alive/connected false', TEST, async () => {
        const fe = await frontend();
        const rec = recorder(fe, 'stateChange');
        await subscribe(fe, `${ADAPTER}.*`);
        const st = await lamp.stop('SIGKILL');
        assert.equal(st.signal, 'SIGKILL');
        for (const id of [ALIVE, CONNECTED]) {
            const [, s] = await rec.waitFor(stateEvent(id, x => x.val === false), CALL_TIMEOUT, `${id} false`);
            assert.equal(s.ack, true, id);
        }
        rec.stop();
        const [err, map] = await emitAck(fe, 'getStates', [ALIVE, CONNECTED]);
        assert.equal(err, null);
        assert.equal(map[ALIVE].val, false);
        assert.equal(map[CONNECTED].val, false);
        assert.deepEqual(await emitAck(fe, 'sendTo', INSTANCE, 'status', {}), [{ error: 'instance lamp.0 is not connected' }]);
    });
});
