'use strict';
// 5,000 quick setStates from one client: applied in order, a subscriber sees them in order.

const { it } = require('node:test');
const assert = require('node:assert/strict');
const { useServer } = require('../lib/server');
const { forEachVariant } = require('../lib/suite');
const { emitAck, emitAckTimeout, recorder, subscribe } = require('../lib/client');

const server = useServer();
const N = Number(process.env.E2E_BULK_N) || 5000;
const BULK_TIMEOUT = 60000; // the reference over polling needs 5–30 s; brokerd about 1 s

forEachVariant(
    server,
    ctx => {
        it(`${N} setStates without waiting: all acked, last value wins, subscriber sees them in order`, { timeout: 90000 }, async t => {
            const id = `${ctx.prefix}.bulk.counter`;
            const rec = recorder(ctx.b, 'stateChange');
            try {
                await subscribe(ctx.b, `${ctx.prefix}.bulk.*`);
                const t0 = Date.now();
                const acks = [];
                for (let i = 0; i < N; i++) acks.push(emitAckTimeout(BULK_TIMEOUT, ctx.a, 'setState', id, i));
                const replies = await Promise.all(acks);
                assert.ok(replies.every(r => r[0] === null && r[1] === id), 'every setState acked [null, id]');

                const [, st] = await emitAck(ctx.a, 'getState', id);
                assert.equal(st.val, N - 1, 'final value is the last one written');

                await rec.waitFor(([i, s]) => i === id && s && s.val === N - 1, BULK_TIMEOUT, `val ${N - 1}`);
                const vals = rec.items.filter(([i]) => i === id).map(([, s]) => s.val);
                for (let k = 1; k < vals.length; k++) {
                    assert.ok(vals[k] > vals[k - 1], `out of order at #${k}: ${vals[k - 1]} then ${vals[k]}`);
                }
                t.diagnostic(`${N} writes acked and ${vals.length} events seen in ${Date.now() - t0} ms`);
                // Every write is published (protocol.md 4: stateChange fires on every write). A server that
                // deliberately coalesces events for slow subscribers can relax this with E2E_ALLOW_COALESCE=1.
                if (!process.env.E2E_ALLOW_COALESCE) assert.equal(vals.length, N, `subscriber got ${vals.length} of ${N} events`);
            } finally {
                rec.stop();
                await emitAck(ctx.b, 'unsubscribe', `${ctx.prefix}.bulk.*`);
            }
        });
    },
    { timeout: 120000 },
);
