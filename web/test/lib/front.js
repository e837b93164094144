'use strict';
// A development front for a brokerd that does not serve the web files yet: serves web/ at
// /, /index.html, /conn.js, /app.js, /style.css from disk and passes everything else
// (HTTP and WebSocket upgrades) through to brokerd. Enabled with WEB_TEST_FRONT=1.

const http = require('node:http');
const net = require('node:net');
const fs = require('node:fs');
const path = require('node:path');

const WEB_DIR = path.join(__dirname, '..', '..');
/** the web/ files brokerd serves: path → [file in web/, Content-Type] */
const STATIC = {
    '/': ['index.html', 'text/html; charset=utf-8'],
    '/index.html': ['index.html', 'text/html; charset=utf-8'],
    '/conn.js': ['conn.js', 'application/javascript; charset=utf-8'],
    '/app.js': ['app.js', 'application/javascript; charset=utf-8'],
    '/style.css': ['style.css', 'text/css; charset=utf-8'],
};

/** start(targetUrl) → {url, stop()} */
async function start(target) {
    const t = new URL(target);
    const srv = http.createServer((req, res) => {
        const p = new URL(req.url, 'http://x').pathname;
        if (req.method === 'GET' && STATIC[p]) {
            res.writeHead(200, { 'Content-Type': STATIC[p][1], 'Cache-Control': 'no-cache' });
            res.end(fs.readFileSync(path.join(WEB_DIR, STATIC[p][0])));
            return;
        }
        const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, r => {
            res.writeHead(r.statusCode, r.headers);
            r.pipe(res);
        });
        up.on('error', () => {
            res.writeHead(502);
            res.end('brokerd unreachable');
        });
        req.pipe(up);
    });
    srv.on('upgrade', (req, sock, head) => {
        const up = net.connect(Number(t.port), t.hostname, () => {
            let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
            for (let i = 0; i < req.rawHeaders.length; i += 2) raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
            up.write(raw + '\r\n');
            if (head && head.length) up.write(head);
            up.pipe(sock);
            sock.pipe(up);
        });
        up.on('error', () => sock.destroy());
        sock.on('error', () => up.destroy());
        sock.on('close', () => up.destroy());
        up.on('close', () => sock.destroy());
    });
    const sockets = new Set();
    srv.on('connection', s => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
    });
    await new Promise(r => srv.listen(0, '127.0.0.1', r));
    return {
        url: `http://127.0.0.1:${srv.address().port}`,
        stop: () => new Promise(r => {
            for (const s of sockets) s.destroy();
            srv.close(() => r());
        }),
    };
}

module.exports = { start, WEB_DIR, STATIC };
