'use strict';
// The simulated lamp adapter (examples/lamp) as a real child process: build it once with `go build`,
// start it against a brokerd URL, read its slog output, stop or kill it.

const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const REPO_DIR = path.resolve(__dirname, '..', '..');
const BUILD_TIMEOUT = Number(process.env.E2E_BUILD_TIMEOUT_MS) || 120000;

/**
 * Path of a lamp binary: E2E_LAMP_BIN when set, else `go build -o <tmp>/lamp ./examples/lamp` from the
 * repository root. Resolves {bin, cleanup()}.
 */
function buildLamp() {
    if (process.env.E2E_LAMP_BIN) return Promise.resolve({ bin: process.env.E2E_LAMP_BIN, cleanup() {} });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brokerd-e2e-lamp-'));
    const bin = path.join(dir, 'lamp');
    const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
    return new Promise((resolve, reject) => {
        execFile('go', ['build', '-o', bin, './examples/lamp'], { cwd: REPO_DIR, timeout: BUILD_TIMEOUT }, (err, stdout, stderr) => {
            if (err) {
                cleanup();
                reject(new Error(`go build ./examples/lamp failed (${err.killed ? `killed after ${BUILD_TIMEOUT} ms` : err.message}):\n${stderr}`));
            } else {
                resolve({ bin, cleanup });
            }
        });
    });
}

const live = new Set();
process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
});

/**
 * Start the lamp: `<bin> -url <url> -instance <instance> [...args]`.
 * Returns {child, log(), waitLog(re, timeout, what), exited, stop(signal, timeout)}:
 *   log(): everything written to stdout+stderr so far;
 *   waitLog(re): resolves the log once it matches re (rejects on timeout or when the process exits first);
 *   exited: promise of {code, signal};
 *   stop(signal): send signal (default SIGTERM; SIGKILL after `timeout` ms) and resolve {code, signal}.
 */
function startLamp(bin, url, { instance = 'lamp.0', args = [] } = {}) {
    const child = spawn(bin, ['-url', url, '-instance', instance, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let out = '';
    const watchers = new Set();
    const onData = d => {
        out += d.toString();
        if (out.length > 50000) out = out.slice(-50000);
        for (const w of [...watchers]) w.check();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    let status = null;
    const exited = new Promise(resolve => {
        child.on('exit', (code, signal) => {
            status = { code, signal };
            live.delete(child);
            for (const w of [...watchers]) w.gone();
            resolve(status);
        });
    });

    function waitLog(re, timeout = 5000, what = String(re)) {
        return new Promise((resolve, reject) => {
            const w = {
                check() {
                    if (re.test(out)) done(null);
                },
                gone() {
                    // the last output may arrive before or after 'exit'; check once more
                    if (re.test(out)) done(null);
                    else done(new Error(`lamp exited (${JSON.stringify(status)}) before logging ${what}:\n${out}`));
                },
            };
            const timer = setTimeout(() => done(new Error(`lamp did not log ${what} within ${timeout} ms:\n${out}`)), timeout);
            function done(err) {
                clearTimeout(timer);
                watchers.delete(w);
                if (err) reject(err);
                else resolve(out);
            }
            watchers.add(w);
            if (re.test(out)) done(null);
            else if (status) w.gone();
        });
    }

    async function stop(signal = 'SIGTERM', timeout = 5000) {
        if (status) return status;
        child.kill(signal);
        const t = setTimeout(() => child.kill('SIGKILL'), timeout);
        try {
            return await exited;
        } finally {
            clearTimeout(t);
        }
    }

    return { child, log: () => out, waitLog, exited, stop };
}

module.exports = { buildLamp, startLamp, REPO_DIR };
