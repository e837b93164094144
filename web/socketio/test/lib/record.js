'use strict';
// Page-side helpers shared by the API tests. record() runs in the browser (page.evaluate) with either
// brokerd's socket.io.js (lib=ours) or socket.io-client 4's bundle (lib=ref) loaded as window.io.

/** record({url, opts}) creates window.s = io(url, opts) and logs its events into window.ev. */
function record({ url, opts }) {
    const ev = (window.ev = []);
    // websocket only: the reference would start with long polling, which ours does not implement
    const s = (window.s = io(url || window.BROKERD, Object.assign({ transports: ['websocket'] }, opts)));
    s.on('connect', () => ev.push('connect'));
    s.on('disconnect', reason => ev.push('disconnect:' + reason));
    s.on('connect_error', err => ev.push('connect_error:' + (err && err.message)));
    s.on('error', err => ev.push('error:' + (typeof err === 'string' ? err : 'obj:' + (err && err.message))));
    s.io.on('reconnect_attempt', n => ev.push('reconnect_attempt:' + n));
    s.io.on('reconnect', n => ev.push('reconnect:' + n));
    s.io.on('reconnect_error', () => ev.push('reconnect_error'));
    s.io.on('reconnect_failed', () => ev.push('reconnect_failed'));
    window.pings = 0;
    s.io.on('ping', () => window.pings++);
    return true;
}

/** normalize drops attempt numbers and collapses repeated failed attempts, for comparing two libraries. */
function normalize(ev) {
    const out = [];
    for (const e of ev) {
        const x = e.replace(/^(reconnect_attempt|reconnect):\d+$/, '$1');
        out.push(x);
    }
    // [attempt, connect_error, reconnect_error] repeated n times → once
    const s = out.join('|').replace(/(reconnect_attempt\|connect_error:[^|]*\|reconnect_error\|)+/g, 'reconnect_attempt|connect_error:…|reconnect_error|');
    return s.split('|');
}

module.exports = { record, normalize };
