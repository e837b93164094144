'use strict';
// File commands on a meta-object namespace (protocol.md 3.4, 9; datamodel.md 7).
// The namespace object e2e.0 is created with setObject first: neither server creates it.

const { it, before } = require('node:test');
const assert = require('node:assert/strict');
const { useServer } = require('../lib/server');
const { forEachVariant } = require('../lib/suite');
const { connect, emitAck, ensureMeta, toBuffer, isBinary, recorder, subscribe } = require('../lib/client');
const { REFERENCE, RUN, FILE_NS } = require('../lib/env');

const server = useServer();

const BIN = Buffer.from([0, 1, 2, 0x7f, 0x80, 0xfd, 0xfe, 0xff]);

function assertFileEntry(e, name, size) {
    assert.equal(e.file, name);
    assert.equal(e.isDir, false);
    assert.equal(typeof e.stats, 'object');
    assert.equal(e.stats.size, size, `${name}: stats.size`);
    assert.equal(typeof e.modifiedAt, 'number');
    assert.equal(e.acl.owner, 'system.user.admin');
    assert.equal(e.acl.ownerGroup, 'system.group.administrator');
    assert.equal(typeof e.acl.permissions, 'number');
    assert.equal(e.acl.read, true);
    assert.equal(e.acl.write, true);
    // js-controller 7.2.3 never sets createdAt for files written by clients (datamodel.md 7.3 [QUIRK]);
    // brokerd always sets it ([GO]).
    if (!REFERENCE) assert.equal(typeof e.createdAt, 'number', `${name}: createdAt`);
}

forEachVariant(server, ctx => {
    let D; // directory of this variant inside the namespace
    const f = name => `${D}/${name}`;
    before(async () => {
        D = `${RUN}/${ctx.tag}`;
        await ensureMeta(ctx.a, FILE_NS);
    });

    it('writeFile text → [null]; readFile → [null, string, "text/plain"]', async () => {
        assert.deepEqual(await emitAck(ctx.a, 'writeFile', FILE_NS, f('hello.txt'), 'hello e2e ✓'), [null]);
        assert.deepEqual(await emitAck(ctx.a, 'readFile', FILE_NS, f('hello.txt')), [null, 'hello e2e ✓', 'text/plain']);
    });

    it('writeFile JSON text → readFile string with "application/json"', async () => {
        const text = JSON.stringify({ a: 1, b: [1, 2, 3] }, null, 2);
        assert.deepEqual(await emitAck(ctx.a, 'writeFile', FILE_NS, f('views.json'), text, {}), [null]);
        assert.deepEqual(await emitAck(ctx.a, 'readFile', FILE_NS, f('views.json')), [null, text, 'application/json']);
    });

    it('writeFile binary (attachment) → readFile returns binary', async () => {
        assert.deepEqual(await emitAck(ctx.a, 'writeFile', FILE_NS, f('img.png'), BIN, { mode: 0x644 }), [null]);
        const [err, data, mime] = await emitAck(ctx.a, 'readFile', FILE_NS, f('img.png'));
        assert.equal(err, null);
        assert.ok(isBinary(data), `binary expected, got ${typeof data}`);
        assert.deepEqual(toBuffer(data), BIN);
        assert.equal(mime, 'image/png');
    });

    it('writeFile64 → [null]; readFile (binary) and readFile64 return the bytes', async () => {
        assert.deepEqual(await emitAck(ctx.a, 'writeFile64', FILE_NS, f('blob.bin'), BIN.toString('base64')), [null]);
        const [err, data, mime] = await emitAck(ctx.a, 'readFile', FILE_NS, f('blob.bin'));
        assert.equal(err, null);
        assert.deepEqual(toBuffer(data), BIN);
        assert.equal(mime, 'application/octet-stream');
        assert.deepEqual(await emitAck(ctx.a, 'readFile64', FILE_NS, f('blob.bin')), [null, BIN.toString('base64'), 'application/octet-stream']);
    });

    it('readFile64 of text → base64 of the UTF-8 bytes', async () => {
        assert.deepEqual(await emitAck(ctx.a, 'readFile64', FILE_NS, f('hello.txt')), [
            null,
            Buffer.from('hello e2e ✓').toString('base64'),
            'text/plain',
        ]);
    });

    it('readFile64 of JSON → base64 of the URI-encoded text (reference quirk kept)', async () => {
        const text = '{"name":"ä b"}';
        await emitAck(ctx.a, 'writeFile', FILE_NS, f('enc.json'), text);
        assert.deepEqual(await emitAck(ctx.a, 'readFile64', FILE_NS, f('enc.json')), [
            null,
            Buffer.from(encodeURIComponent(text)).toString('base64'),
            'application/json',
        ]);
    });

    it('readDir entry shape: files with stats/acl/modifiedAt, folders {file, stats:{}, isDir:true}, sorted', async () => {
        await emitAck(ctx.a, 'writeFile', FILE_NS, f('sub/nested.txt'), 'nested');
        const [err, list] = await emitAck(ctx.a, 'readDir', FILE_NS, D);
        assert.equal(err, null);
        const names = list.map(e => e.file);
        assert.deepEqual(names, ['blob.bin', 'enc.json', 'hello.txt', 'img.png', 'sub', 'views.json']);
        const byName = Object.fromEntries(list.map(e => [e.file, e]));
        assertFileEntry(byName['hello.txt'], 'hello.txt', Buffer.byteLength('hello e2e ✓'));
        assertFileEntry(byName['blob.bin'], 'blob.bin', BIN.length);
        assert.deepEqual(byName.sub, { file: 'sub', stats: {}, isDir: true });
        // the third argument (conn.js sends {filter:true}) is accepted and ignored
        const [, sub] = await emitAck(ctx.a, 'readDir', FILE_NS, f('sub'), { filter: true });
        assert.equal(sub.length, 1);
        assertFileEntry(sub[0], 'nested.txt', 6);
    });

    it('readDir of a missing folder in an existing namespace → [null, []]', async () => {
        assert.deepEqual(await emitAck(ctx.a, 'readDir', FILE_NS, f('no-such-dir')), [null, []]);
    });

    it('fileExists → [null, true] / [null, false]', async () => {
        assert.deepEqual(await emitAck(ctx.a, 'fileExists', FILE_NS, f('hello.txt')), [null, true]);
        assert.deepEqual(await emitAck(ctx.a, 'fileExists', FILE_NS, f('nope.txt')), [null, false]);
    });

    it('mkdir → folder listed by readDir, empty inside (marker hidden)', async () => {
        assert.deepEqual(await emitAck(ctx.a, 'mkdir', FILE_NS, f('made')), [null]);
        const [, list] = await emitAck(ctx.a, 'readDir', FILE_NS, D);
        assert.deepEqual(
            list.find(e => e.file === 'made'),
            { file: 'made', stats: {}, isDir: true },
        );
        assert.deepEqual(await emitAck(ctx.a, 'readDir', FILE_NS, f('made')), [null, []]);
    });

    it('rename a file: old name gone, content under the new name', async () => {
        await emitAck(ctx.a, 'writeFile', FILE_NS, f('old.txt'), 'moving');
        assert.deepEqual(await emitAck(ctx.a, 'rename', FILE_NS, f('old.txt'), f('new.txt')), [null]);
        assert.deepEqual(await emitAck(ctx.a, 'fileExists', FILE_NS, f('old.txt')), [null, false]);
        assert.deepEqual(await emitAck(ctx.a, 'readFile', FILE_NS, f('new.txt')), [null, 'moving', 'text/plain']);
    });

    it('rename a folder moves everything below it', async () => {
        await emitAck(ctx.a, 'writeFile', FILE_NS, f('proj/a.txt'), 'A');
        await emitAck(ctx.a, 'writeFile', FILE_NS, f('proj/deep/b.txt'), 'B');
        assert.deepEqual(await emitAck(ctx.a, 'rename', FILE_NS, f('proj'), f('proj2')), [null]);
        assert.deepEqual(await emitAck(ctx.a, 'readFile', FILE_NS, f('proj2/a.txt')), [null, 'A', 'text/plain']);
        assert.deepEqual(await emitAck(ctx.a, 'readFile', FILE_NS, f('proj2/deep/b.txt')), [null, 'B', 'text/plain']);
        assert.deepEqual(await emitAck(ctx.a, 'fileExists', FILE_NS, f('proj/a.txt')), [null, false]);
        assert.deepEqual(await emitAck(ctx.a, 'readDir', FILE_NS, f('proj')), [null, []]);
    });

    it('unlink a file → gone, readFile → ["Not exists"]', async () => {
        await emitAck(ctx.a, 'writeFile', FILE_NS, f('gone.txt'), 'x');
        assert.deepEqual(await emitAck(ctx.a, 'unlink', FILE_NS, f('gone.txt')), [null]);
        assert.deepEqual(await emitAck(ctx.a, 'fileExists', FILE_NS, f('gone.txt')), [null, false]);
        assert.deepEqual(await emitAck(ctx.a, 'readFile', FILE_NS, f('gone.txt')), ['Not exists']);
    });

    it('unlink a folder deletes it recursively', async () => {
        assert.deepEqual(await emitAck(ctx.a, 'unlink', FILE_NS, f('proj2')), [null]);
        assert.deepEqual(await emitAck(ctx.a, 'fileExists', FILE_NS, f('proj2/deep/b.txt')), [null, false]);
        const [, list] = await emitAck(ctx.a, 'readDir', FILE_NS, D);
        assert.ok(!list.some(e => e.file === 'proj2'), 'proj2 still listed');
    });

    it('readFile of a missing file → ["Not exists"]', async () => {
        assert.deepEqual(await emitAck(ctx.a, 'readFile', FILE_NS, f('missing.txt')), ['Not exists']);
    });

    it('readFile64 of a missing file → [error, "", null]', async () => {
        const reply = await emitAck(ctx.a, 'readFile64', FILE_NS, f('missing.txt'));
        assert.equal(reply.length, 3);
        // the reference sends the raw Error object ({}); a message string is allowed (protocol.md 6)
        assert.ok(reply[0], 'error expected');
        assert.equal(reply[1], '');
        assert.equal(reply[2], null);
    });

    it('subscribeFiles → fileChange(ns, file, size) on write, size null on delete', async () => {
        const rec = recorder(ctx.b, 'fileChange');
        const pattern = `${D}/watch/*`;
        try {
            assert.deepEqual(await subscribe(ctx.b, [FILE_NS, pattern], 'subscribeFiles'), [null]);
            await emitAck(ctx.a, 'writeFile', FILE_NS, f('watch/w.txt'), 'four');
            const ev = await rec.waitFor(([, name]) => name === f('watch/w.txt'), undefined, 'write');
            assert.deepEqual(ev, [FILE_NS, f('watch/w.txt'), 4]);
            await emitAck(ctx.a, 'unlink', FILE_NS, f('watch/w.txt'));
            const del = await rec.waitFor(([, name, size]) => name === f('watch/w.txt') && size === null, undefined, 'delete');
            assert.deepEqual(del, [FILE_NS, f('watch/w.txt'), null]);
        } finally {
            rec.stop();
            await emitAck(ctx.b, 'unsubscribeFiles', FILE_NS, pattern);
        }
    });

    it('writeFile of a 2 MB project file in one message', {
        // The socketio adapter keeps Engine.IO's 1 MB default and drops the connection (protocol.md 1.3,
        // Appendix B 13); brokerd has a large configurable limit because vis saves a project in one message.
        skip: REFERENCE && 'reference closes connections on messages above 1 MB',
    }, async () => {
        const big = JSON.stringify({ views: 'x'.repeat(2 * 1024 * 1024) });
        // own connection: if the server drops it, the other tests of this variant are not affected
        const s = await connect(server.url, ctx.v);
        try {
            assert.deepEqual(await emitAck(s, 'writeFile', FILE_NS, f('big/vis-views.json'), big), [null]);
            const [err, text] = await emitAck(s, 'readFile', FILE_NS, f('big/vis-views.json'));
            assert.equal(err, null);
            assert.equal(text.length, big.length);
            assert.equal(text, big);
        } finally {
            s.close();
        }
    });

    it('writeFile into a namespace without meta object → not-meta error', async () => {
        const ns = `nometa${RUN}${ctx.tag.replace('_', '')}.0`;
        assert.deepEqual(await emitAck(ctx.a, 'writeFile', ns, 'x.txt', 'x'), [`${ns} is not an object of type "meta"`]);
    });
});
