'use strict';
// Runs one block of tests once per client/transport variant, each with two connected clients.

const { describe, before, after } = require('node:test');
const { VARIANTS, variantSkip, variantTag, RUN } = require('./env');
const { connectMany } = require('./client');

/**
 * forEachVariant(server, (ctx) => { it(...) ... })
 * ctx.a / ctx.b: two sockets connected before the first test of the variant (b is "another client");
 * ctx.v: the variant; ctx.prefix: an id prefix unique to this run + variant ("e2e.0.<run>.<tag>").
 */
function forEachVariant(server, body, { clients = 2, timeout = 60000 } = {}) {
    for (const v of VARIANTS) {
        describe(v.label, { skip: variantSkip(v), timeout }, () => {
            const ctx = { v, tag: variantTag(v), prefix: `e2e.0.${RUN}.${variantTag(v)}`, sockets: [] };
            before(async () => {
                ctx.sockets = await connectMany(server.url, v, clients);
                [ctx.a, ctx.b, ctx.c] = ctx.sockets;
            });
            after(() => {
                for (const s of ctx.sockets) s.close();
            });
            body(ctx);
        });
    }
}

/** A state object as vis/admin would create it. */
function stateObject(name, type = 'number', extra = {}) {
    return { type: 'state', common: { name, type, role: 'value', read: true, write: true, ...extra }, native: {} };
}

module.exports = { forEachVariant, stateObject };
