'use strict';
// Error and "not found" answer shapes (protocol.md 6, Appendix B) and unknown commands.

const { it, before } = require('node:test');
const assert = require('node:assert/strict');
const { useServer } = require('../lib/server');
const { forEachVariant } = require('../lib/suite');
const { emitAck, emitMaybeAck, ensureMeta } = require('../lib/client');
const { REFERENCE, FILE_NS, RUN } = require('../lib/env');

const server = useServer();

forEachVariant(server, ctx => {
    let P;
    before(async () => {
        P = ctx.prefix;
        await ensureMeta(ctx.a, FILE_NS);
    });

    it('getState of a missing id → [null, null]', async () => {
        assert.deepEqual(await emitAck(ctx.a, 'getState', `${P}.missing`), [null, null]);
    });

    it('getObject of a missing id → [null, null]', async () => {
        assert.deepEqual(await emitAck(ctx.a, 'getObject', `${P}.missing`), [null, null]);
    });

    it('readFile of a missing file → ["Not exists"]', async () => {
        assert.deepEqual(await emitAck(ctx.a, 'readFile', FILE_NS, `${RUN}/missing.txt`), ['Not exists']);
    });

    it('readFile64 of a missing file → [error, "", null]', async () => {
        const [err, data, mime] = await emitAck(ctx.a, 'readFile64', FILE_NS, `${RUN}/missing.txt`);
        assert.ok(err);
        assert.equal(data, '');
        assert.equal(mime, null);
    });

    it('setState with an empty object → "no properties" error', async () => {
        assert.deepEqual(await emitAck(ctx.a, 'setState', `${P}.bad`, {}), [
            'The state contains no properties! At least one property is expected!',
        ]);
    });

    it('setState with a forbidden property → error naming it', async () => {
        assert.deepEqual(await emitAck(ctx.a, 'setState', `${P}.bad`, { val: 1, foo: 2 }), [
            'The state contains the forbidden properties foo!',
        ]);
    });

    it('setState with a wrongly typed property → type error', async () => {
        assert.deepEqual(await emitAck(ctx.a, 'setState', `${P}.bad`, { val: 1, ack: 'yes' }), [
            'The state property "ack" has the wrong type "string" (should be "boolean")!',
        ]);
        // nothing was stored by the refused writes
        assert.deepEqual(await emitAck(ctx.a, 'getState', `${P}.bad`), [null, null]);
    });

    it('unknown command → error ack (brokerd) / silence (reference)', async () => {
        const r = await emitMaybeAck(REFERENCE ? 1500 : 5000, ctx.a, `unknownCommand${RUN}`, 1);
        if (REFERENCE) {
            // The reference silently ignores unknown events (protocol.md 2.1); clients then wait forever.
            assert.equal(r.answered, false, `reference answered ${JSON.stringify(r.reply)}`);
            return;
        }
        // Deliberate brokerd difference: an answer with a truthy error first, so clients do not hang.
        assert.equal(r.answered, true, 'brokerd must answer unknown commands');
        assert.ok(r.reply[0], `error expected, got ${JSON.stringify(r.reply)}`);
        // and the connection stays usable
        assert.deepEqual(await emitAck(ctx.a, 'authenticate'), [true, null]);
    });
});
