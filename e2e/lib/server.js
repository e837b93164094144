'use strict';
// The server under test.
//
//   BROKERD_BIN set  → start `$BROKERD_BIN serve --config <tmp yaml>` on a free loopback port with a
//                      temp data dir, wait until GET /name answers, kill it when the test file ends.
//   otherwise        → use BROKERD_URL as is (default http://127.0.0.1:8084), e.g. a running brokerd
//                      or the ioBroker reference (http://127.0.0.1:18084 with E2E_REFERENCE=1).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const http = require('node:http');

const DEFAULT_URL = 'http://127.0.0.1:8084';
const START_TIMEOUT = Number(process.env.E2E_START_TIMEOUT_MS) || 15000;

/** GET url → {status, headers, body} (body as string); rejects on network error or timeout. */
function httpGet(url, timeout = 3000) {
    return new Promise((resolve, reject) => {
        const req = http.get(url, { timeout }, res => {
            const chunks = [];
            res.on('data', c => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        });
        req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout after ${timeout} ms`)));
        req.on('error', reject);
    });
}

function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

/**
 * Spawn brokerd; resolves {url, port, dataDir, stop, restart, output}.
 * opts.config: extra YAML lines appended to the temp config (e.g. ['adapters:', '  send_to_timeout: 2s']).
 * restart({signal}) kills the running process (SIGTERM by default, or e.g. SIGKILL) and starts a new
 * one on the same port, config and data dir, resolving once GET /name answers again.
 */
async function startBrokerd(bin, opts = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brokerd-e2e-'));
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(dataDir);
    const port = await freePort();
    const cfg = path.join(dir, 'config.yaml');
    fs.writeFileSync(
        cfg,
        [`listen: "127.0.0.1:${port}"`, `data_dir: ${JSON.stringify(dataDir)}`, 'auth:', '  enabled: false', ...(opts.config || []), ''].join(
            '\n',
        ),
    );
    const url = `http://127.0.0.1:${port}`;

    let output = '';
    let child = null;
    let exited = null;
    const killOnExit = () => child && child.exitCode === null && child.signalCode === null && child.kill('SIGKILL');
    process.on('exit', killOnExit);

    const spawnChild = () => {
        const c = spawn(bin, ['serve', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
        const keep = d => {
            output += d.toString();
            if (output.length > 20000) output = output.slice(-20000);
        };
        c.stdout.on('data', keep);
        c.stderr.on('data', keep);
        exited = null;
        c.on('exit', (code, signal) => {
            if (c === child) exited = { code, signal };
        });
        child = c;
    };

    /** Stop the running process (signal, then SIGKILL after 3 s) and wait for its exit. */
    const kill = async (signal = 'SIGTERM') => {
        if (exited !== null) return;
        const gone = new Promise(r => child.once('exit', r));
        child.kill(signal);
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await gone;
        clearTimeout(t);
    };

    const stop = async () => {
        process.off('exit', killOnExit);
        await kill();
        if (!process.env.E2E_KEEP_DATA) fs.rmSync(dir, { recursive: true, force: true });
        if (process.env.E2E_SERVER_LOG) process.stderr.write(`--- brokerd output (${url}) ---\n${output}\n`);
    };

    const waitReady = async () => {
        const deadline = Date.now() + START_TIMEOUT;
        let last = 'no answer';
        for (;;) {
            if (exited) {
                const err = new Error(`brokerd exited early (${JSON.stringify(exited)}):\n${output}`);
                err.output = output;
                await stop();
                throw err;
            }
            try {
                const r = await httpGet(`${url}/name`, 1000);
                if (r.status === 200) return;
                last = `HTTP ${r.status} ${JSON.stringify(r.body.slice(0, 100))}`;
            } catch (e) {
                last = e.message; // not up yet
            }
            if (Date.now() > deadline) {
                await stop();
                throw new Error(`brokerd did not answer GET /name with 200 within ${START_TIMEOUT} ms (last: ${last}):\n${output}`);
            }
            await sleep(100);
        }
    };

    const restart = async ({ signal = 'SIGTERM' } = {}) => {
        await kill(signal);
        spawnChild();
        await waitReady();
    };

    spawnChild();
    await waitReady();
    return { url, port, dataDir, stop, restart, output: () => output, spawned: true };
}

/**
 * Resolve the server for one test file; call stop() when done. opts (extra config) and restart()
 * exist only for a spawned brokerd (`spawned: true`).
 */
async function startServer(opts = {}) {
    const bin = process.env.BROKERD_BIN;
    if (bin) return startBrokerd(bin, opts);
    const url = (process.env.BROKERD_URL || DEFAULT_URL).replace(/\/+$/, '');
    return { url, stop: async () => {}, spawned: false };
}

/**
 * Register node:test before/after hooks at the top level of a test file and return a handle whose
 * `url` is valid inside tests.
 */
function useServer() {
    const { before, after } = require('node:test');
    const handle = { url: null };
    let srv = null;
    before(async () => {
        srv = await startServer();
        handle.url = srv.url;
    });
    after(async () => {
        if (srv) await srv.stop();
    });
    return handle;
}

module.exports = { startServer, useServer, httpGet };
