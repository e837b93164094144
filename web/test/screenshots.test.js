'use strict';
// Screenshots of the dashboard (desktop 1280x800, phone 390x844) into /work/main/screenshots/,
// and layout checks: no horizontal scrolling on any tab at either size.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const h = require('./lib/harness');

const VIEWPORTS = [
    { name: 'desktop', width: 1280, height: 800 },
    { name: 'phone', width: 390, height: 844 },
];

let srv;
let authSrv;
let browser;

// tinyPNG makes a w×h RGB gradient PNG (CRCs computed here, no image library needed).
function tinyPNG(w, hgt) {
    const crcTable = Array.from({ length: 256 }, (_, n) => {
        let c = n;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        return c >>> 0;
    });
    const crc = buf => {
        let c = 0xffffffff;
        for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
        return (c ^ 0xffffffff) >>> 0;
    };
    const chunk = (type, data) => {
        const len = Buffer.alloc(4);
        len.writeUInt32BE(data.length);
        const td = Buffer.concat([Buffer.from(type), data]);
        const c = Buffer.alloc(4);
        c.writeUInt32BE(crc(td));
        return Buffer.concat([len, td, c]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(w, 0);
    ihdr.writeUInt32BE(hgt, 4);
    ihdr[8] = 8;
    ihdr[9] = 2;
    const raw = Buffer.alloc((w * 3 + 1) * hgt);
    for (let y = 0; y < hgt; y++) {
        for (let x = 0; x < w; x++) {
            const o = y * (w * 3 + 1) + 1 + x * 3;
            raw[o] = 37 + (x * 180) / w;
            raw[o + 1] = 99 + (y * 120) / hgt;
            raw[o + 2] = 235;
        }
    }
    return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

async function seedDemo(c) {
    await h.seed(c);
    await c.call('setObject', 'vis.0', { type: 'meta', common: { name: 'vis project files', type: 'meta.user' }, native: {} });
    const demo = [
        ['hue.0.living_room.ceiling.on', 'Ceiling light', 'boolean', true, true],
        ['hue.0.living_room.ceiling.level', 'Brightness', 'number', 80, true],
        ['zigbee.0.00158d0001a2b3c4.temperature', 'Temperature', 'number', 21.4, true],
        ['zigbee.0.00158d0001a2b3c4.humidity', 'Humidity', 'number', 48, true],
        ['zigbee.0.00158d0001a2b3c4.battery', 'Battery', 'number', 92, true],
        ['zigbee.0.front_door.opened', 'Front door open', 'boolean', false, true],
        ['javascript.0.heating.target_temperature_bathroom_weekday_morning', 'Target temperature', 'number', 22.5, false],
        ['system.host.brokerd.alive', 'Host alive', 'boolean', true, true],
    ];
    for (const [id, name, type, val, ack] of demo) {
        await c.call('setObject', id, { type: 'state', common: { name, type, role: 'state', read: true, write: true }, native: {} });
        await c.call('setState', id, { val, ack });
    }
    await c.call('writeFile', 'vis.0', 'main/vis-views.json', JSON.stringify({ Start: { settings: { style: {} }, widgets: {} } }, null, 2), {});
    await c.call('writeFile', 'vis.0', 'main/img/logo.png', tinyPNG(96, 48), {});
    await c.call('writeFile', 'vis.0', 'main/vis-user.css', '.vis-view { background: #fff; }\n', {});
}

before(async () => {
    fs.mkdirSync(h.SCREENSHOT_DIR, { recursive: true });
    srv = await h.startServer();
    authSrv = await h.startServer({ auth: true });
    browser = await h.launchBrowser();
    const c = await h.nodeClient(srv.url);
    await seedDemo(c);
    c.close();
});

after(() => h.stopAll(browser, srv, authSrv));

async function noHorizontalScroll(page, what) {
    const m = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, w: window.innerWidth }));
    assert.ok(m.sw <= m.w, `${what}: page is ${m.sw}px wide in a ${m.w}px viewport`);
}

for (const vp of VIEWPORTS) {
    test(`dashboard screenshots, ${vp.name} ${vp.width}x${vp.height}`, async () => {
        const page = await h.newPage(browser, { width: vp.width, height: vp.height });
        const shot = name => page.screenshot({ path: path.join(h.SCREENSHOT_DIR, `${vp.name}-${name}.png`), fullPage: false });
        await page.goto(srv.url + '/');
        await page.waitForSelector('#conn.on', { timeout: h.CALL_TIMEOUT });
        await page.locator('#states tr[data-id="zigbee.0.front_door.opened"]').waitFor({ timeout: h.CALL_TIMEOUT });
        // one live update so a row carries the change highlight
        const c = await h.nodeClient(srv.url);
        await c.call('setState', 'zigbee.0.00158d0001a2b3c4.temperature', { val: 21.6, ack: true });
        c.close();
        await page.waitForFunction(() => document.querySelector('#states tr[data-id="zigbee.0.00158d0001a2b3c4.temperature"] .val').textContent === '21.6', null, { timeout: h.CALL_TIMEOUT });
        await noHorizontalScroll(page, 'states');
        await shot('states');

        await page.click('.tabs button[data-tab="objects"]');
        await page.click('#tree .node[data-id="zigbee"]');
        await page.click('#tree .node[data-id="zigbee.0"]');
        await page.click('#tree .node[data-id="zigbee.0.00158d0001a2b3c4"]');
        await page.click('#tree .node[data-id="zigbee.0.00158d0001a2b3c4.temperature"]');
        await page.waitForFunction(() => /"Temperature"/.test(document.querySelector('#obj-detail').textContent), null, { timeout: h.CALL_TIMEOUT });
        await noHorizontalScroll(page, 'objects');
        await shot('objects');

        await page.click('.tabs button[data-tab="files"]');
        await page.click('#files .entry[data-name="vis.0"]');
        await page.click('#files .entry[data-name="main"]');
        await page.click('#files .entry[data-name="img"]');
        await page.click('#files .entry[data-name="logo.png"]');
        await page.waitForSelector('#file-view img.preview', { timeout: h.CALL_TIMEOUT });
        await page.click('#crumbs button:nth-of-type(3)');
        await page.click('#files .entry[data-name="vis-views.json"]');
        await page.waitForFunction(() => /"Start"/.test(document.querySelector('#file-view').textContent), null, { timeout: h.CALL_TIMEOUT });
        await noHorizontalScroll(page, 'files');
        await shot('files');
        assert.deepEqual(page.errors, []);
        await page.context().close();
    });

    test(`login screenshot, ${vp.name}`, async () => {
        const page = await h.newPage(browser, { width: vp.width, height: vp.height });
        await page.goto(authSrv.url + '/');
        await page.waitForSelector('#login:not([hidden])', { timeout: h.CALL_TIMEOUT });
        await noHorizontalScroll(page, 'login');
        await page.screenshot({ path: path.join(h.SCREENSHOT_DIR, `${vp.name}-login.png`) });
        await page.context().close();
    });
}
