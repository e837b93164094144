'use strict';
// getObject / getObjects / getObjectView / setObject / extendObject / delObject and objectChange
// (protocol.md 3.3, 7, 8.1, 8.4).

const { it, before } = require('node:test');
const assert = require('node:assert/strict');
const { useServer } = require('../lib/server');
const { forEachVariant, stateObject } = require('../lib/suite');
const { emitAck, recorder, subscribe } = require('../lib/client');
const { REFERENCE, RUN } = require('../lib/env');

const server = useServer();

const rowIds = res => res.rows.map(r => r.id).sort();

forEachVariant(server, ctx => {
    let P;
    let ENUM;
    before(async () => {
        P = ctx.prefix;
        ENUM = `enum.rooms.e2e_${RUN}_${ctx.tag}`;
        const objs = {
            [`${P}.view.a`]: stateObject('a'),
            [`${P}.view.b`]: stateObject('b'),
            [`${P}.view.c`]: stateObject('c', 'string'),
            [`${P}.view.sub.d`]: stateObject('d'),
            [`${P}.view.chan`]: { type: 'channel', common: { name: 'a channel' }, native: {} },
            [ENUM]: { type: 'enum', common: { name: 'E2E room', members: [`${P}.view.a`] }, native: {} },
        };
        for (const [id, obj] of Object.entries(objs)) {
            assert.deepEqual(await emitAck(ctx.a, 'setObject', id, obj), [null, { id }]);
        }
    });

    it('getObject → stored object with _id/from/user/ts filled in', async () => {
        const id = `${P}.view.a`;
        const [err, obj] = await emitAck(ctx.a, 'getObject', id);
        assert.equal(err, null);
        assert.equal(obj._id, id);
        assert.equal(obj.type, 'state');
        assert.equal(obj.common.name, 'a');
        assert.deepEqual(obj.native, {});
        assert.match(obj.from, /^system\.adapter\./);
        assert.equal(obj.user, 'system.user.admin');
        assert.equal(typeof obj.ts, 'number');
    });

    it('getObject of a missing id → [null, null]', async () => {
        assert.deepEqual(await emitAck(ctx.a, 'getObject', `${P}.does.not.exist`), [null, null]);
    });

    it('getObject("system.config") → config object', async () => {
        const [err, obj] = await emitAck(ctx.a, 'getObject', 'system.config');
        assert.equal(err, null);
        assert.equal(obj._id, 'system.config');
        assert.equal(obj.type, 'config');
        assert.equal(typeof obj.common, 'object');
    });

    it('getObjects() → map with state, channel and enum objects', async () => {
        const [err, map] = await emitAck(ctx.a, 'getObjects');
        assert.equal(err, null);
        for (const id of [`${P}.view.a`, `${P}.view.sub.d`, `${P}.view.chan`, ENUM]) {
            assert.ok(map[id], `getObjects() misses ${id}`);
            assert.equal(map[id]._id, id);
        }
        assert.equal(map[`${P}.view.chan`].type, 'channel');
    });

    it('getObjects([ids]) → only the existing ids', async () => {
        const ids = [`${P}.view.a`, `${P}.view.missing`];
        const [err, map] = await emitAck(ctx.a, 'getObjects', ids);
        assert.equal(err, null);
        assert.deepEqual(Object.keys(map), [`${P}.view.a`]);
        assert.equal(map[`${P}.view.a`].common.name, 'a');
    });

    it('getObjectView system/state with startkey/endkey prefix range', async () => {
        const [err, res] = await emitAck(ctx.a, 'getObjectView', 'system', 'state', {
            startkey: `${P}.view.`,
            endkey: `${P}.view.\u9999`,
        });
        assert.equal(err, null);
        // the channel is not in the state view
        assert.deepEqual(rowIds(res), [`${P}.view.a`, `${P}.view.b`, `${P}.view.c`, `${P}.view.sub.d`]);
        for (const row of res.rows) {
            assert.equal(row.value._id, row.id);
            assert.equal(row.value.type, 'state');
        }
        // brokerd returns rows sorted by id (datamodel.md 6.1 [GO]); the reference does not promise an order
        if (!REFERENCE) assert.deepEqual(res.rows.map(r => r.id), rowIds(res));
    });

    it('getObjectView bounds are inclusive; startkey === endkey selects exactly that id', async () => {
        const [, res] = await emitAck(ctx.a, 'getObjectView', 'system', 'state', { startkey: `${P}.view.a`, endkey: `${P}.view.b` });
        assert.deepEqual(rowIds(res), [`${P}.view.a`, `${P}.view.b`]);
        const [, one] = await emitAck(ctx.a, 'getObjectView', 'system', 'state', { startkey: `${P}.view.c`, endkey: `${P}.view.c` });
        assert.deepEqual(rowIds(one), [`${P}.view.c`]);
        const [, none] = await emitAck(ctx.a, 'getObjectView', 'system', 'state', { startkey: `${P}.nothing.`, endkey: `${P}.nothing.\u9999` });
        assert.deepEqual(none, { rows: [] });
    });

    it('getObjectView system/channel selects by type', async () => {
        const [, res] = await emitAck(ctx.a, 'getObjectView', 'system', 'channel', { startkey: `${P}.`, endkey: `${P}.\u9999` });
        assert.deepEqual(rowIds(res), [`${P}.view.chan`]);
    });

    it('getObjectView system/enum (conn.js range enum. … enum.\\u9999)', async () => {
        const [err, res] = await emitAck(ctx.a, 'getObjectView', 'system', 'enum', { startkey: 'enum.', endkey: 'enum.\u9999' });
        assert.equal(err, null);
        const row = res.rows.find(r => r.id === ENUM);
        assert.ok(row, `enum view misses ${ENUM}`);
        assert.equal(row.value.type, 'enum');
        assert.deepEqual(row.value.common.members, [`${P}.view.a`]);
        assert.ok(res.rows.every(r => r.value.type === 'enum'));
    });

    it('getObjectView of an unknown design → error', async () => {
        const [err] = await emitAck(ctx.a, 'getObjectView', `nodesign${RUN}`, 'state', { startkey: '', endkey: '\u9999' });
        // the reference sends the raw Error object ({}), a string is fine too: clients test truthiness
        assert.ok(err, 'error expected');
    });

    it('setObject → ack {id} and objectChange at another client', async () => {
        const id = `${P}.obj.new`;
        const rec = recorder(ctx.b, 'objectChange');
        try {
            assert.deepEqual(await subscribe(ctx.b, `${P}.obj.*`, 'subscribeObjects'), [null]);
            const obj = stateObject('new one', 'number', { unit: '°C' });
            assert.deepEqual(await emitAck(ctx.a, 'setObject', id, obj), [null, { id }]);
            const [evId, evObj] = await rec.waitFor(([i]) => i === id, undefined, id);
            assert.equal(evId, id);
            assert.equal(evObj._id, id);
            assert.equal(evObj.common.unit, '°C');
            const [, stored] = await emitAck(ctx.a, 'getObject', id);
            assert.deepEqual(evObj, stored, 'event object equals the stored object');
            // replace: common is replaced, not merged
            await emitAck(ctx.a, 'setObject', id, stateObject('renamed'));
            const [, evObj2] = await rec.waitFor(([i, o]) => i === id && o && o.common.name === 'renamed', undefined, 'replace');
            assert.equal(evObj2.common.unit, undefined);
        } finally {
            rec.stop();
            await emitAck(ctx.b, 'unsubscribeObjects', `${P}.obj.*`);
        }
    });

    it('unsubscribeObjects → no objectChange for that pattern any more', async () => {
        const x = `${P}.uo.x`;
        const sentinel = `${P}.uo.sentinel`;
        const rec = recorder(ctx.b, 'objectChange');
        try {
            assert.deepEqual(await subscribe(ctx.b, [x, sentinel], 'subscribeObjects'), [null]);
            assert.deepEqual(await emitAck(ctx.b, 'unsubscribeObjects', [x]), [null]);
            await emitAck(ctx.a, 'setObject', x, stateObject('x'));
            await emitAck(ctx.a, 'setObject', sentinel, stateObject('sentinel'));
            await rec.waitFor(([i]) => i === sentinel, undefined, sentinel);
            assert.deepEqual(rec.items.map(([i]) => i), [sentinel]);
        } finally {
            rec.stop();
            await emitAck(ctx.b, 'unsubscribeObjects', [x, sentinel]);
        }
    });

    it('delObject(id, options) → [null], objectChange(id, null) and stateChange(id, null)', async () => {
        // The socketio adapter lets even admin delete only flot.* / fullcalendar.* ids (protocol.md 3.3);
        // a flot.* id therefore works against both servers.
        const id = `flot.e2e_${RUN}_${ctx.tag}`;
        const rec = recorder(ctx.b, 'objectChange');
        const states = recorder(ctx.b, 'stateChange');
        try {
            await subscribe(ctx.b, 'flot.e2e_*', 'subscribeObjects');
            await subscribe(ctx.b, id);
            await emitAck(ctx.a, 'setObject', id, { type: 'state', common: { name: 'flot', type: 'string', role: 'json' }, native: {} });
            await rec.waitFor(([i, o]) => i === id && o, undefined, 'create');
            await emitAck(ctx.a, 'setState', id, '{}');
            await states.waitFor(([i, st]) => i === id && st, undefined, 'value');
            assert.deepEqual(await emitAck(ctx.a, 'delObject', id, {}), [null]);
            await rec.waitFor(([i, o]) => i === id && o === null, undefined, 'delete');
            assert.deepEqual(await emitAck(ctx.a, 'getObject', id), [null, null]);
            // deleting a state object deletes its value too → stateChange(id, null) (protocol.md 4)
            await states.waitFor(([i, st]) => i === id && st === null, undefined, 'state deleted');
            assert.deepEqual(await emitAck(ctx.a, 'getState', id), [null, null]);
        } finally {
            rec.stop();
            states.stop();
            await emitAck(ctx.b, 'unsubscribeObjects', 'flot.e2e_*');
            await emitAck(ctx.b, 'unsubscribe', id);
        }
    });

    it('delObject of any id as admin', {
        // Reference: socketio's delObject refuses everything outside flot./fullcalendar. with
        // "permissionError", even for admin; brokerd applies the admin override (protocol.md 3.3).
        skip: REFERENCE && 'socketio adapter allows delObject only for flot.*/fullcalendar.*',
    }, async () => {
        const id = `${P}.obj.del`;
        const rec = recorder(ctx.b, 'objectChange');
        try {
            await subscribe(ctx.b, `${P}.obj.del`, 'subscribeObjects');
            await emitAck(ctx.a, 'setObject', id, stateObject('to delete'));
            await emitAck(ctx.a, 'setState', id, 1);
            assert.deepEqual(await emitAck(ctx.a, 'delObject', id, {}), [null]);
            await rec.waitFor(([i, o]) => i === id && o === null, undefined, 'delete');
            assert.deepEqual(await emitAck(ctx.a, 'getObject', id), [null, null]);
            // deleting a state object also deletes its value (datamodel.md 3.7)
            assert.deepEqual(await emitAck(ctx.a, 'getState', id), [null, null]);
        } finally {
            rec.stop();
            await emitAck(ctx.b, 'unsubscribeObjects', `${P}.obj.del`);
        }
    });

    it('extendObject deep-merges and emits objectChange', {
        skip: REFERENCE && 'extendObject exists only in the admin adapter, socketio never answers it',
    }, async () => {
        const id = `${P}.obj.ext`;
        const rec = recorder(ctx.b, 'objectChange');
        try {
            await subscribe(ctx.b, id, 'subscribeObjects');
            await emitAck(ctx.a, 'setObject', id, stateObject('ext', 'number', { unit: 'W' }));
            const [err, res] = await emitAck(ctx.a, 'extendObject', id, { common: { name: 'extended', min: 0 }, native: { k: 1 } });
            assert.equal(err, null);
            assert.equal(res.id, id);
            const [, obj] = await emitAck(ctx.a, 'getObject', id);
            assert.equal(obj.common.name, 'extended');
            assert.equal(obj.common.unit, 'W', 'untouched keys survive');
            assert.equal(obj.common.min, 0);
            assert.deepEqual(obj.native, { k: 1 });
            await rec.waitFor(([i, o]) => i === id && o && o.common.name === 'extended', undefined, 'extend');
        } finally {
            rec.stop();
            await emitAck(ctx.b, 'unsubscribeObjects', id);
        }
    });

    it('delObjects deletes a subtree', {
        skip: REFERENCE && 'delObjects exists only in the admin adapter, socketio never answers it',
    }, async () => {
        const root = `${P}.tree`;
        for (const id of [root, `${root}.x`, `${root}.y.z`]) await emitAck(ctx.a, 'setObject', id, stateObject(id));
        const [err] = await emitAck(ctx.a, 'delObjects', root, {});
        assert.equal(err, null);
        const [, map] = await emitAck(ctx.a, 'getObjects', [root, `${root}.x`, `${root}.y.z`]);
        assert.deepEqual(map, {});
    });
});
