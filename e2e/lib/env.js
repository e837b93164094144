'use strict';
// Settings shared by all tests, read once from the environment.

/** True when the suite runs against the real ioBroker reference (socketio adapter 8.0.1). */
const REFERENCE = !!process.env.E2E_REFERENCE;

/** Timeout for one awaited answer (connect, ack, event). */
const CALL_TIMEOUT = Number(process.env.E2E_CALL_TIMEOUT_MS) || 5000;

/**
 * Pause after a subscribe/subscribeObjects ack before relying on the subscription.
 * The reference acks `subscribe` (setImmediate) before its states-DB subscription is
 * active, so a write right after the ack is usually missed there (README "Quirks" 1).
 * brokerd must have the subscription active when it acks, so it gets no grace period.
 */
const SUBSCRIBE_SETTLE_MS =
    process.env.E2E_SUBSCRIBE_SETTLE_MS !== undefined ? Number(process.env.E2E_SUBSCRIBE_SETTLE_MS) : REFERENCE ? 700 : 0;

/** Client library × transport combinations every protocol test runs over. */
const VARIANTS = [
    { client: 'sio2', transport: 'polling', label: 'EIO3 sio2 polling+upgrade' },
    { client: 'sio2', transport: 'websocket', label: 'EIO3 sio2 websocket-only' },
    { client: 'sio4', transport: 'polling', label: 'EIO4 sio4 polling+upgrade' },
    { client: 'sio4', transport: 'websocket', label: 'EIO4 sio4 websocket-only' },
];

/**
 * Skip reason for a variant, or false. The reference is a socket.io v2 server (EIO3 only):
 * socket.io-client 4.x cannot connect to it. EIO4 is a brokerd extension (protocol.md 1.5).
 */
function variantSkip(v) {
    if (REFERENCE && v.client === 'sio4') {
        return 'reference is socket.io v2 (EIO3 only); EIO4 is a brokerd extension';
    }
    return false;
}

/** Short unique tag for this process, so repeated runs against a persistent DB do not collide. */
const RUN = `r${Date.now().toString(36)}${process.pid.toString(36)}`;

/** Id-safe short name of a variant, e.g. "sio2_ws". */
function variantTag(v) {
    return `${v.client}_${v.transport === 'websocket' ? 'ws' : 'poll'}`;
}

/** Meta object (file namespace) used by the file tests. */
const FILE_NS = 'e2e.0';

module.exports = { REFERENCE, CALL_TIMEOUT, SUBSCRIBE_SETTLE_MS, VARIANTS, variantSkip, variantTag, RUN, FILE_NS };
