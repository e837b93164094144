'use strict';
// Test-only code shared by the two browser suites, web/test/ and web/socketio/test/ (each suite's
// lib/harness.js builds on it; see README.md here). Never served: brokerd embeds only the files its
// go:embed lines name (web/web.go, web/socketio/socketio.go).
//
// This folder has no node_modules of its own, so it requires nothing outside Node's standard
// library: the suites pass in playwright-core's `chromium` and socket.io-client's `io` from their own.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const http = require('node:http');

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
    '--no-first-run', '--disable-component-update', '--disable-sync'];

const sleep = ms => new Promise(r => setTimeout(r, ms));

/** freePort() → a TCP port on 127.0.0.1 that was free a moment ago. */
function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.on('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

/** get(url) → {status, type, body(Buffer)} */
function get(url, timeout = 2000) {
    return new Promise((resolve, reject) => {
        const req = http.get(url, { timeout }, res => {
            const chunks = [];
            res.on('data', c => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'] || '', body: Buffer.concat(chunks) }));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
    });
}

/** withTimeout rejects when p does not settle within ms. */
function withTimeout(p, ms, what) {
    let t;
    return Promise.race([p, new Promise((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: no answer within ${ms} ms`)), ms)))])
        .finally(() => clearTimeout(t));
}

/** waitFor(fn, what, ms) polls fn until it returns a truthy value (which it resolves with). */
async function waitFor(fn, what, ms) {
    const deadline = Date.now() + ms;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
        await sleep(50);
    }
}

/**
 * startBrokerd({bin, auth, config, tmpPrefix, startTimeout, showLog}) runs `bin serve` on a free port of
 * 127.0.0.1 with a fresh temp data dir → {kind, url, port, up(), down(signal), restart(signal), signal(sig),
 * stop(), log()}. With auth the user tester/pw (group administrator) exists; config: extra YAML lines;
 * showLog(): whether stop() writes brokerd's output to stderr.
 */
async function startBrokerd({ bin, auth = false, config = [], tmpPrefix = 'brokerd-test-', startTimeout = 15000, showLog = () => false }) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(dataDir);
    const port = await freePort();
    const cfg = path.join(dir, 'config.yaml');
    fs.writeFileSync(cfg, [`listen: "127.0.0.1:${port}"`, `data_dir: ${JSON.stringify(dataDir)}`, 'auth:', `  enabled: ${auth}`, ...config, ''].join('\n'));
    if (auth) execFileSync(bin, ['user', 'add', 'tester', '--password', 'pw', '--group', 'administrator', '--config', cfg], { stdio: 'pipe' });
    const url = `http://127.0.0.1:${port}`;
    let child = null;
    let exited = null;
    let output = '';
    const up = async () => {
        exited = null;
        child = spawn(bin, ['serve', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
        const keep = d => (output = (output + d).slice(-20000));
        child.stdout.on('data', keep);
        child.stderr.on('data', keep);
        child.on('exit', (code, signal) => (exited = { code, signal }));
        await waitFor(async () => {
            if (exited) throw new Error(`brokerd exited early (${JSON.stringify(exited)}):\n${output}`);
            try {
                return (await get(`${url}/healthz`, 500)).status === 200;
            } catch {
                return false;
            }
        }, 'brokerd start', startTimeout).catch(e => {
            throw exited ? e : new Error(`${e.message}:\n${output}`);
        });
    };
    // down('SIGKILL') drops every connection at once (reason "transport close" on the clients);
    // SIGTERM is brokerd's graceful shutdown.
    const down = async (signal = 'SIGTERM') => {
        if (!child || exited) return;
        const gone = new Promise(r => child.once('exit', r));
        child.kill(signal);
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(t);
    };
    process.on('exit', () => child && !exited && child.kill('SIGKILL'));
    await up();
    return {
        kind: 'brokerd', url, port, up, down, log: () => output,
        signal: sig => child.kill(sig), // SIGSTOP / SIGCONT: a server that stops answering
        restart: async signal => {
            await down(signal);
            await up();
        },
        stop: async () => {
            await down();
            if (showLog()) process.stderr.write(`--- brokerd output ---\n${output}\n`);
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

/** launchBrowser(chromium, runScript): headless Debian chromium; runScript is named when it is missing. */
async function launchBrowser(chromium, runScript) {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run ${runScript} (installs Debian's chromium)`);
    return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/**
 * newPage(browser, {context, consoleErrors, echoConsole}) → page with page.errors (uncaught errors, and
 * console.error messages too when consoleErrors) and page.console (every console message); context:
 * options for browser.newContext; echoConsole(): whether to copy the console to stderr.
 */
async function newPage(browser, { context = {}, consoleErrors = false, echoConsole = () => false } = {}) {
    const ctx = await browser.newContext(context);
    const page = await ctx.newPage();
    page.errors = [];
    page.console = [];
    page.on('pageerror', e => page.errors.push(String(e)));
    page.on('console', m => {
        page.console.push(`${m.type()}: ${m.text()}`);
        if (consoleErrors && m.type() === 'error') page.errors.push(m.text());
        if (echoConsole()) process.stderr.write(`[page ${m.type()}] ${m.text()}\n`);
    });
    return page;
}

/** nodeClient(io, url, query, timeout) → connected socket.io-client v4 socket with call(name, ...args) → Promise<ack args>. */
async function nodeClient(io, url, query, timeout) {
    const sock = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, query });
    await withTimeout(new Promise((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('connect_error', reject);
    }), timeout, 'node client connect');
    sock.call = (name, ...args) => withTimeout(new Promise(resolve => sock.emit(name, ...args, (...res) => resolve(res))), timeout, name);
    return sock;
}

/** waitEvent(sock, name, pred, ms) resolves with the args of the first matching event. */
function waitEvent(sock, name, pred, ms) {
    let handler;
    return withTimeout(new Promise(resolve => {
        handler = (...args) => {
            if (!pred || pred(...args)) resolve(args);
        };
        sock.on(name, handler);
    }), ms, `event ${name}`).finally(() => sock.off(name, handler));
}

/** stopAll(...parts) stops (stop()) or closes (close()) each part in the order given; missing ones are skipped. */
async function stopAll(...parts) {
    let first = null;
    for (const p of parts) {
        try {
            if (p && typeof p.stop === 'function') await p.stop();
            else if (p && typeof p.close === 'function') await p.close();
        } catch (e) {
            first = first || e;
        }
    }
    if (first) throw first;
}

/**
 * startAll([[name, start(env)], …]) → env with env[name] = await start(env), in order; falsy steps are
 * skipped. When a step fails, what was started is stopped again (last first) and the error is thrown.
 */
async function startAll(steps) {
    const env = {};
    try {
        for (const step of steps.filter(Boolean)) env[step[0]] = await step[1](env);
    } catch (e) {
        await stopAll(...Object.values(env).reverse()).catch(() => {});
        throw e;
    }
    return env;
}

module.exports = { CHROMIUM, sleep, freePort, get, withTimeout, waitFor, startBrokerd, launchBrowser, newPage, nodeClient, waitEvent, startAll, stopAll };
