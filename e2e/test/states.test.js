'use strict';
// getStates / getState / setState and stateChange subscriptions (protocol.md 3.2, 5, 8.2, 8.3).

const { it, before } = require('node:test');
const assert = require('node:assert/strict');
const { useServer } = require('../lib/server');
const { forEachVariant, stateObject } = require('../lib/suite');
const { emitAck, recorder, subscribe } = require('../lib/client');

const server = useServer();

/** Checks the fields every state read back from the server carries (protocol.md 4, 8.3). */
function assertStateShape(st, { val, ack }) {
    assert.ok(st && typeof st === 'object', `state expected, got ${JSON.stringify(st)}`);
    assert.deepEqual(st.val, val);
    assert.equal(st.ack, ack);
    assert.equal(typeof st.ts, 'number');
    assert.equal(typeof st.lc, 'number');
    assert.equal(typeof st.q, 'number');
    assert.equal(typeof st.from, 'string');
    assert.equal(st.user, 'system.user.admin');
}

forEachVariant(server, ctx => {
    let P; // id prefix of this variant
    before(async () => {
        P = ctx.prefix;
        for (const [id, type] of [
            [`${P}.st.num`, 'number'],
            [`${P}.st.str`, 'string'],
            [`${P}.st.empty`, 'number'], // object without any value
        ]) {
            assert.deepEqual(await emitAck(ctx.a, 'setObject', id, stateObject(id, type)), [null, { id }]);
        }
        assert.deepEqual(await emitAck(ctx.a, 'setState', `${P}.st.num`, { val: 7, ack: true }), [null, `${P}.st.num`]);
        assert.deepEqual(await emitAck(ctx.a, 'setState', `${P}.st.str`, { val: 'seven', ack: true }), [null, `${P}.st.str`]);
        // value without an object: readable by id, invisible to getStates(pattern)
        assert.deepEqual(await emitAck(ctx.a, 'setState', `${P}.st.noobj`, 1), [null, `${P}.st.noobj`]);
    });

    it('getStates(pattern) → ids of state objects matching, null for objects without value', async () => {
        const [err, map] = await emitAck(ctx.a, 'getStates', `${P}.st.*`);
        assert.equal(err, null);
        assert.deepEqual(Object.keys(map).sort(), [`${P}.st.empty`, `${P}.st.num`, `${P}.st.str`]);
        assert.equal(map[`${P}.st.empty`], null);
        assertStateShape(map[`${P}.st.num`], { val: 7, ack: true });
        assertStateShape(map[`${P}.st.str`], { val: 'seven', ack: true });
    });

    it('getStates([ids]) → every requested id, null for a missing one', async () => {
        const ids = [`${P}.st.num`, `${P}.st.noobj`, `${P}.st.missing`];
        const [err, map] = await emitAck(ctx.a, 'getStates', ids);
        assert.equal(err, null);
        assert.deepEqual(Object.keys(map).sort(), [...ids].sort());
        assertStateShape(map[`${P}.st.num`], { val: 7, ack: true });
        assertStateShape(map[`${P}.st.noobj`], { val: 1, ack: false });
        assert.equal(map[`${P}.st.missing`], null);
    });

    it('getStates() and getStates(null) → all state objects', async () => {
        for (const args of [[], [null]]) {
            const [err, map] = await emitAck(ctx.a, 'getStates', ...args);
            assert.equal(err, null);
            assert.ok(map && typeof map === 'object');
            assert.ok(`${P}.st.num` in map, `getStates(${args.map(String)}) misses ${P}.st.num`);
            assert.ok(`${P}.st.empty` in map);
            assert.equal(map[`${P}.st.empty`], null);
            assert.equal(map[`${P}.st.num`].val, 7);
        }
    });

    it('getState → state, missing id → [null, null]', async () => {
        const [err, st] = await emitAck(ctx.a, 'getState', `${P}.st.str`);
        assert.equal(err, null);
        assertStateShape(st, { val: 'seven', ack: true });
        assert.deepEqual(await emitAck(ctx.a, 'getState', `${P}.st.missing`), [null, null]);
    });

    it('setState(id, plain value) → ack false, q 0, server-filled from/user/ts/lc', async () => {
        const id = `${P}.set.plain`;
        const t0 = Date.now();
        assert.deepEqual(await emitAck(ctx.a, 'setState', id, 42), [null, id]);
        const [err, st] = await emitAck(ctx.a, 'getState', id);
        assert.equal(err, null);
        assertStateShape(st, { val: 42, ack: false });
        assert.equal(st.q, 0);
        assert.match(st.from, /^system\.adapter\./);
        assert.ok(st.ts >= t0 - 5000 && st.ts <= Date.now() + 5000, `ts ${st.ts} not "now"`);
        assert.equal(st.lc, st.ts);
        // a second write of the same value keeps lc, refreshes ts
        await emitAck(ctx.a, 'setState', id, 42);
        const [, st2] = await emitAck(ctx.a, 'getState', id);
        assert.equal(st2.lc, st.lc);
        assert.ok(st2.ts >= st.ts);
    });

    it('setState(id, {val, ack, q, c, from}) keeps the given fields', async () => {
        const id = `${P}.set.obj`;
        const state = { val: 'on', ack: true, q: 0x40, c: 'e2e comment', from: 'system.adapter.e2e.0' };
        assert.deepEqual(await emitAck(ctx.a, 'setState', id, state), [null, id]);
        const [, st] = await emitAck(ctx.a, 'getState', id);
        assertStateShape(st, { val: 'on', ack: true });
        assert.equal(st.q, 0x40);
        assert.equal(st.c, 'e2e comment');
        assert.equal(st.from, 'system.adapter.e2e.0');
        // ack is never inherited: a later plain write is ack false again
        await emitAck(ctx.a, 'setState', id, 'off');
        const [, st2] = await emitAck(ctx.a, 'getState', id);
        assertStateShape(st2, { val: 'off', ack: false });
    });

    it('setState → stateChange at another client with a wildcard subscription', async () => {
        const id = `${P}.ev.one`;
        const rec = recorder(ctx.b, 'stateChange');
        try {
            assert.deepEqual(await subscribe(ctx.b, `${P}.ev.*`), [null]);
            assert.deepEqual(await emitAck(ctx.a, 'setState', id, { val: 5, ack: false }), [null, id]);
            const [evId, st] = await rec.waitFor(([i]) => i === id, undefined, id);
            assert.equal(evId, id);
            assertStateShape(st, { val: 5, ack: false });
            const [, stored] = await emitAck(ctx.a, 'getState', id);
            assert.deepEqual(st, stored, 'event state equals the stored state');
        } finally {
            rec.stop();
            await emitAck(ctx.b, 'unsubscribe', `${P}.ev.*`);
        }
    });

    it('subscribe/unsubscribe with arrays; no event after unsubscribe', async () => {
        const [x, y, z] = ['x', 'y', 'z'].map(n => `${P}.arr.${n}`);
        const rec = recorder(ctx.b, 'stateChange');
        try {
            assert.deepEqual(await subscribe(ctx.b, [x, y]), [null]);
            await emitAck(ctx.a, 'setState', z, 1); // not subscribed
            await emitAck(ctx.a, 'setState', x, 1);
            await emitAck(ctx.a, 'setState', y, 1);
            await rec.waitFor(([i]) => i === x, undefined, x);
            await rec.waitFor(([i]) => i === y, undefined, y);
            assert.equal(rec.items.filter(([i]) => i === z).length, 0, 'no event for an unsubscribed id');

            assert.deepEqual(await emitAck(ctx.b, 'unsubscribe', [x]), [null]);
            rec.clear();
            await emitAck(ctx.a, 'setState', x, 2);
            await emitAck(ctx.a, 'setState', y, 2); // y is still subscribed: its event is the sentinel
            await rec.waitFor(([i, s]) => i === y && s.val === 2, undefined, `${y} = 2`);
            assert.deepEqual(rec.items.map(([i]) => i), [y], 'only the still-subscribed id');
        } finally {
            rec.stop();
            await emitAck(ctx.b, 'unsubscribe', [x, y]);
        }
    });

    it('unsubscribe of a wildcard removes exactly that pattern', async () => {
        const wild = `${P}.uw.*`;
        const sentinel = `${P}.uw_sentinel`;
        const rec = recorder(ctx.b, 'stateChange');
        try {
            await subscribe(ctx.b, [wild, sentinel]);
            await emitAck(ctx.a, 'setState', `${P}.uw.deep.id`, 1);
            await rec.waitFor(([i]) => i === `${P}.uw.deep.id`, undefined, 'wildcard matches across dots');
            // unsubscribing a narrower id changes nothing (protocol.md 5.2)
            await emitAck(ctx.b, 'unsubscribe', `${P}.uw.deep.id`);
            rec.clear();
            await emitAck(ctx.a, 'setState', `${P}.uw.deep.id`, 2);
            await rec.waitFor(([i, s]) => i === `${P}.uw.deep.id` && s.val === 2, undefined, 'still subscribed');
            // the identical pattern removes it
            await emitAck(ctx.b, 'unsubscribe', wild);
            rec.clear();
            await emitAck(ctx.a, 'setState', `${P}.uw.deep.id`, 3);
            await emitAck(ctx.a, 'setState', sentinel, 3);
            await rec.waitFor(([i]) => i === sentinel, undefined, sentinel);
            assert.deepEqual(rec.items.map(([i]) => i), [sentinel]);
        } finally {
            rec.stop();
            await emitAck(ctx.b, 'unsubscribe', [wild, sentinel]);
        }
    });

    it('overlapping patterns → exactly one event per change', async () => {
        const id = `${P}.ov.x`;
        const sentinel = `${P}.ov.sentinel`;
        const patterns = [`${P}.ov.*`, id, `${P}.o*`, `${P}.*`];
        const rec = recorder(ctx.b, 'stateChange');
        try {
            await subscribe(ctx.b, patterns);
            await subscribe(ctx.b, `${P}.ov.*`); // same pattern twice: still one subscription
            await emitAck(ctx.a, 'setState', id, 1);
            await emitAck(ctx.a, 'setState', sentinel, 1);
            await rec.waitFor(([i]) => i === sentinel, undefined, sentinel);
            assert.deepEqual(rec.items.map(([i]) => i), [id, sentinel]);
        } finally {
            rec.stop();
            await emitAck(ctx.b, 'unsubscribe', patterns);
        }
    });

    it('the writer receives its own stateChange when subscribed', async () => {
        const id = `${P}.self.x`;
        const rec = recorder(ctx.a, 'stateChange');
        try {
            await subscribe(ctx.a, id);
            await emitAck(ctx.a, 'setState', id, true);
            const [, st] = await rec.waitFor(([i]) => i === id, undefined, id);
            assert.equal(st.val, true);
        } finally {
            rec.stop();
            await emitAck(ctx.a, 'unsubscribe', id);
        }
    });
});
