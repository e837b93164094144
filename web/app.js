/* brokerd dashboard: live states, object tree, file browser — on top of servConn (conn.js). */
(function () {
    'use strict';

    var MAX_ROWS = 2000;
    var $ = function (sel) {
        return document.querySelector(sel);
    };

    function el(tag, attrs, children) {
        var e = document.createElement(tag);
        Object.keys(attrs || {}).forEach(function (k) {
            if (k === 'text') e.textContent = attrs[k];
            else if (k === 'class') e.className = attrs[k];
            else e.setAttribute(k, attrs[k]);
        });
        (children || []).forEach(function (c) {
            if (c) e.appendChild(c);
        });
        return e;
    }

    // ioBroker pattern: only "*" is a wildcard (matches dots too), anchored at both ends.
    function patternRegExp(p) {
        var body = String(p || '*').split('*').map(function (s) {
            return s.replace(/[-\/\\^$+?.()|[\]{}]/g, '\\$&');
        }).join('.*');
        return new RegExp('^' + body + '$');
    }

    function fmtVal(v) {
        if (v === null || v === undefined) return String(v);
        if (typeof v === 'object') return JSON.stringify(v);
        return String(v);
    }

    function parseVal(s) {
        var t = s.trim();
        if (t === 'true') return true;
        if (t === 'false') return false;
        if (t === 'null') return null;
        if (t !== '' && !isNaN(Number(t))) return Number(t);
        if (/^[[{]/.test(t)) {
            try {
                return JSON.parse(t);
            } catch (e) { /* a string */ }
        }
        return s;
    }

    function pad(n) {
        return n < 10 ? '0' + n : String(n);
    }

    function fmtTime(ms) {
        if (!ms) return '';
        var d = new Date(ms);
        var now = new Date();
        var t = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
        if (d.toDateString() === now.toDateString()) return t;
        return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + t;
    }

    function fmtSize(n) {
        if (n === null || n === undefined) return '';
        if (n < 1024) return n + ' B';
        if (n < 1048576) return (n / 1024).toFixed(1) + ' KB';
        return (n / 1048576).toFixed(1) + ' MB';
    }

    /* ---------- connection status and login ---------- */

    function setConn(cls, text) {
        $('#conn').className = 'conn ' + cls;
        $('#conn-text').textContent = text;
    }

    // showLogin: the connect refusal's text is not shown (nobody typed anything yet); a session
    // that ends while connected is worth a word.
    function showLogin() {
        var expired = everConnected;
        $('#login').hidden = false;
        $('#app').hidden = true;
        $('#login-error').textContent = expired ? 'Your session has ended. Please sign in again.' : '';
        setConn('auth', 'login required');
        $('#login-user').focus();
    }

    $('#login-form').addEventListener('submit', function (ev) {
        ev.preventDefault();
        $('#login-error').textContent = '';
        var btn = ev.target.querySelector('button');
        btn.disabled = true;
        servConn.login($('#login-user').value, $('#login-pass').value, function (err) {
            btn.disabled = false;
            if (err) {
                $('#login-error').textContent = err;
                return;
            }
            $('#login-pass').value = '';
            $('#login').hidden = true;
            $('#app').hidden = false;
            setConn('connecting', 'connecting…');
        });
    });

    $('#logout').addEventListener('click', function () {
        servConn.logout(function () {
            location.reload();
        });
    });

    /* ---------- tabs ---------- */

    var loaded = {};
    document.querySelectorAll('.tabs button').forEach(function (b) {
        b.addEventListener('click', function () {
            selectTab(b.getAttribute('data-tab'));
        });
    });

    function selectTab(name) {
        document.querySelectorAll('.tabs button').forEach(function (b) {
            b.setAttribute('aria-selected', String(b.getAttribute('data-tab') === name));
        });
        document.querySelectorAll('.panel').forEach(function (p) {
            p.hidden = p.id !== 'tab-' + name;
        });
        if (!loaded[name] && servConn.getIsConnected()) {
            loaded[name] = true;
            if (name === 'objects') loadTree();
            if (name === 'files') openDir([]);
        }
    }

    /* ---------- states ---------- */

    var states = {}; // id → state
    var rows = {}; // id → {tr, val, ack, lc}
    var pattern = '*';
    var re = patternRegExp(pattern);
    var tbody = $('#states tbody');

    function rowFor(id) {
        var r = rows[id];
        if (r) return r;
        var val = el('span', { class: 'val' });
        var ack = el('span', { class: 'ack' });
        var lc = el('time', { class: 'lc' });
        var edit = el('button', { type: 'button', class: 'ghost small', text: 'Edit', 'aria-label': 'Edit ' + id });
        edit.addEventListener('click', function () {
            $('#set-id').value = id;
            $('#set-val').value = states[id] ? fmtVal(states[id].val) : '';
            $('#set-val').focus();
            $('#set-val').select();
        });
        var tr = el('tr', { 'data-id': id }, [
            el('td', { class: 'id' }, [el('code', { text: id })]),
            el('td', { class: 'v' }, [val]),
            el('td', { class: 'a' }, [ack]),
            el('td', { class: 't' }, [lc]),
            el('td', { class: 'e' }, [edit]),
        ]);
        r = rows[id] = { tr: tr, val: val, ack: ack, lc: lc };
        // keep the table sorted by id
        var ids = Object.keys(rows).sort();
        var next = rows[ids[ids.indexOf(id) + 1]];
        tbody.insertBefore(tr, next ? next.tr : null);
        return r;
    }

    function paint(id, st, flash) {
        var r = rowFor(id);
        r.val.textContent = st ? fmtVal(st.val) : '—';
        r.val.className = 'val' + (st && typeof st.val === 'boolean' ? ' bool-' + st.val : '');
        r.ack.textContent = st ? (st.ack ? 'ack' : 'cmd') : '';
        r.ack.className = 'ack ' + (st && st.ack ? 'yes' : 'no');
        r.ack.title = st ? (st.ack ? 'acknowledged (ack=true)' : 'command, not yet acknowledged (ack=false)') : '';
        var lc = st ? st.lc || st.ts : 0;
        r.lc.textContent = fmtTime(lc);
        if (lc) r.lc.setAttribute('datetime', new Date(lc).toISOString());
        r.lc.title = st && st.ts ? 'changed ' + new Date(lc).toLocaleString() + ', updated ' + new Date(st.ts).toLocaleString() : '';
        if (flash) {
            r.tr.classList.remove('flash');
            void r.tr.offsetWidth; // restart the animation
            r.tr.classList.add('flash');
        }
    }

    function updateInfo() {
        var n = Object.keys(rows).length;
        $('#states-info').textContent = n ? n + (n === 1 ? ' state' : ' states') + ' matching ' + pattern + (n >= MAX_ROWS ? ' (first ' + MAX_ROWS + ' shown)' : '') : 'No states match ' + pattern;
    }

    function loadStates() {
        $('#states-info').textContent = 'Loading…';
        servConn.getStates(pattern, function (err, res) {
            if (err) {
                $('#states-info').textContent = 'Cannot read states: ' + err;
                return;
            }
            Object.keys(res || {}).sort().slice(0, MAX_ROWS).forEach(function (id) {
                states[id] = res[id];
                paint(id, res[id], false);
            });
            updateInfo();
        });
    }

    function setPattern(p) {
        p = p.trim() || '*';
        if (p !== pattern) servConn.unsubscribe(pattern);
        pattern = p;
        re = patternRegExp(p);
        states = {};
        rows = {};
        tbody.textContent = '';
        servConn.subscribe(pattern);
        loadStates();
    }

    $('#filter-form').addEventListener('submit', function (ev) {
        ev.preventDefault();
        setPattern($('#filter').value);
    });

    $('#set-form').addEventListener('submit', function (ev) {
        ev.preventDefault();
        var id = $('#set-id').value.trim();
        if (!id) return;
        var btn = ev.target.querySelector('button');
        btn.disabled = true;
        servConn.setState(id, parseVal($('#set-val').value), function (err) {
            btn.disabled = false;
            $('#states-info').textContent = err ? 'Cannot write ' + id + ': ' + err : 'Wrote ' + id + ' (ack=false)';
        });
    });

    function onUpdate(id, st) {
        if (!re.test(id)) return;
        if (!rows[id] && Object.keys(rows).length >= MAX_ROWS) return;
        var isNew = !rows[id];
        states[id] = st;
        paint(id, st, true);
        if (isNew) updateInfo();
    }

    /* ---------- object tree (lazy) ---------- */

    var VIEW_TYPES = ['host', 'adapter', 'instance', 'meta', 'device', 'channel', 'folder', 'state', 'enum',
        'script', 'config', 'group', 'user', 'chart'];

    // childrenOf lists the direct children of prefix ('' = root): [{id, name, obj, hasChildren}]
    function childrenOf(prefix, cb) {
        var found = {}; // id → real object (or true for virtual folders)
        var left = VIEW_TYPES.length;
        var params = prefix ? { startkey: prefix + '.', endkey: prefix + '.\u9999', depth: 1 } : { startkey: '', endkey: '\u9999', depth: 1 };
        VIEW_TYPES.forEach(function (t) {
            servConn.getObjectView('system', t, params, function (err, res) {
                if (!err && res && res.rows) {
                    res.rows.forEach(function (r) {
                        var v = r.value;
                        var id = v && typeof v === 'object' && v._id ? v._id : r.id;
                        if (!found[id] || found[id] === true) found[id] = v && !v.virtual ? v : true;
                    });
                }
                if (--left) return;
                var base = prefix ? prefix + '.' : '';
                var kids = {};
                Object.keys(found).forEach(function (id) {
                    if (id.indexOf(base) !== 0 || id === prefix) return;
                    var rest = id.slice(base.length);
                    var dot = rest.indexOf('.');
                    var name = dot < 0 ? rest : rest.slice(0, dot);
                    var cid = base + name;
                    var k = kids[cid] || (kids[cid] = { id: cid, name: name, obj: null, hasChildren: false });
                    if (dot < 0) {
                        if (found[id] !== true) k.obj = found[id];
                        else k.hasChildren = true; // synthetic folder row: something lies below
                    } else {
                        k.hasChildren = true;
                    }
                });
                cb(Object.keys(kids).sort().map(function (k) {
                    return kids[k];
                }));
            });
        });
    }

    function objName(obj) {
        var n = obj && obj.common && obj.common.name;
        if (n && typeof n === 'object') n = n.en || n[Object.keys(n)[0]];
        return typeof n === 'string' ? n : '';
    }

    function renderChildren(ul, prefix) {
        ul.textContent = '';
        ul.appendChild(el('li', { class: 'muted loading', text: 'Loading…' }));
        childrenOf(prefix, function (kids) {
            ul.textContent = '';
            if (!kids.length) ul.appendChild(el('li', { class: 'muted', text: prefix ? 'No children' : 'No objects' }));
            kids.forEach(function (k) {
                var label = el('span', { class: 'name', text: k.name });
                var type = k.obj && k.obj.type ? el('span', { class: 'type t-' + k.obj.type, text: k.obj.type }) : null;
                var title = objName(k.obj);
                var node = el('button', { type: 'button', class: 'node' + (k.hasChildren ? ' branch' : ' leaf'), 'aria-expanded': k.hasChildren ? 'false' : null, 'data-id': k.id, title: k.id }, [
                    el('span', { class: 'twisty', 'aria-hidden': 'true', text: k.hasChildren ? '▸' : '•' }),
                    label,
                    title && title !== k.name ? el('span', { class: 'title', text: title }) : null,
                    type,
                ]);
                if (!k.hasChildren) node.removeAttribute('aria-expanded');
                var sub = el('ul', { class: 'tree', role: 'group' });
                sub.hidden = true;
                var li = el('li', { role: 'treeitem' }, [node, sub]);
                node.addEventListener('click', function () {
                    if (k.hasChildren) {
                        var open = sub.hidden;
                        sub.hidden = !open;
                        node.setAttribute('aria-expanded', String(open));
                        node.querySelector('.twisty').textContent = open ? '▾' : '▸';
                        if (open && !sub.childNodes.length) renderChildren(sub, k.id);
                    }
                    showObject(k.id);
                });
                ul.appendChild(li);
            });
        });
    }

    function showObject(id) {
        document.querySelectorAll('#tree .node.selected').forEach(function (n) {
            n.classList.remove('selected');
        });
        var n = document.querySelector('#tree .node[data-id="' + CSS.escape(id) + '"]');
        if (n) n.classList.add('selected');
        $('#obj-title').textContent = id;
        $('#obj-title').className = '';
        $('#obj-detail').textContent = 'Loading…';
        servConn.getObject(id, function (err, obj) {
            if (err) {
                $('#obj-detail').textContent = 'Error: ' + err;
            } else if (!obj) {
                $('#obj-detail').textContent = '(no object: folder only)';
            } else {
                $('#obj-detail').textContent = JSON.stringify(obj, null, 2);
            }
        });
    }

    function loadTree() {
        renderChildren($('#tree'), '');
    }

    /* ---------- files ---------- */

    var cwd = []; // [namespace, folder, …]
    var blobUrl = null;

    function pathOf(parts) {
        return '/' + parts.join('/');
    }

    function openDir(parts) {
        cwd = parts;
        var crumbs = $('#crumbs');
        crumbs.textContent = '';
        var all = [{ name: 'Namespaces', parts: [] }].concat(parts.map(function (p, i) {
            return { name: p, parts: parts.slice(0, i + 1) };
        }));
        all.forEach(function (c, i) {
            if (i) crumbs.appendChild(el('span', { class: 'sep', text: '/' }));
            var b = el('button', { type: 'button', class: 'link', text: c.name });
            b.addEventListener('click', function () {
                openDir(c.parts);
            });
            crumbs.appendChild(b);
        });
        $('#upload-form').hidden = !parts.length;
        var ul = $('#files');
        ul.textContent = '';
        ul.appendChild(el('li', { class: 'muted', text: 'Loading…' }));
        servConn.readDir(parts.length ? pathOf(parts) : '/', function (err, entries) {
            ul.textContent = '';
            if (err) {
                ul.appendChild(el('li', { class: 'error', text: 'Error: ' + err }));
                return;
            }
            entries = (entries || []).slice().sort(function (a, b) {
                return (b.isDir - a.isDir) || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0);
            });
            if (!entries.length) ul.appendChild(el('li', { class: 'muted', text: parts.length ? 'Empty folder' : 'No namespaces with files' }));
            entries.forEach(function (e) {
                var b = el('button', { type: 'button', class: 'entry ' + (e.isDir ? 'dir' : 'file'), 'data-name': e.file }, [
                    icon(e.isDir ? 'dir' : 'file'),
                    el('span', { class: 'name', text: e.file }),
                    el('span', { class: 'size muted', text: e.isDir ? '' : fmtSize(e.stats && e.stats.size) }),
                ]);
                b.addEventListener('click', function () {
                    if (e.isDir) openDir(parts.concat(e.file));
                    else openFile(parts.concat(e.file));
                });
                ul.appendChild(el('li', {}, [b]));
            });
        });
    }

    // icon draws a small folder or file glyph (inline SVG: no icon font or image needed)
    var ICONS = {
        dir: 'M1.5 3.5h4l1.5 1.5h7.5v8.5h-13z',
        file: 'M3.5 1.5h6l3 3v10h-9z M9.5 1.5v3h3',
    };
    function icon(kind) {
        var ns = 'http://www.w3.org/2000/svg';
        var svg = document.createElementNS(ns, 'svg');
        svg.setAttribute('viewBox', '0 0 16 16');
        svg.setAttribute('class', 'icon ' + kind);
        svg.setAttribute('aria-hidden', 'true');
        var p = document.createElementNS(ns, 'path');
        p.setAttribute('d', ICONS[kind]);
        svg.appendChild(p);
        return svg;
    }

    function openFile(parts) {
        var name = pathOf(parts);
        var view = $('#file-view');
        $('#file-title').textContent = name;
        $('#file-title').className = '';
        view.textContent = 'Loading…';
        var dl = $('#file-download');
        dl.hidden = true;
        servConn.readFile(name, function (err, data, fileName, mime) {
            view.textContent = '';
            if (err) {
                view.appendChild(el('p', { class: 'error', text: 'Error: ' + err }));
                return;
            }
            mime = mime || servConn.getMimeType(name);
            if (blobUrl) URL.revokeObjectURL(blobUrl);
            blobUrl = URL.createObjectURL(new Blob([data], { type: mime }));
            dl.href = blobUrl;
            dl.download = parts[parts.length - 1];
            dl.hidden = false;
            if (typeof data === 'string') {
                view.appendChild(el('pre', { class: 'code', text: data.length > 200000 ? data.slice(0, 200000) + '\n…' : data }));
            } else if (/^image\//.test(mime)) {
                view.appendChild(el('img', { class: 'preview', src: blobUrl, alt: parts[parts.length - 1] }));
            } else {
                var n = data && data.byteLength !== undefined ? data.byteLength : 0;
                view.appendChild(el('p', { class: 'muted', text: 'Binary file, ' + fmtSize(n) + ' (' + mime + ')' }));
            }
        });
    }

    $('#upload-form').addEventListener('submit', function (ev) {
        ev.preventDefault();
        var f = $('#upload-file').files[0];
        if (!f || !cwd.length) return;
        f.arrayBuffer().then(function (buf) {
            servConn.writeFile(pathOf(cwd.concat(f.name)), buf, function (err) {
                if (err) alert('Upload failed: ' + err);
                $('#upload-file').value = '';
                openDir(cwd);
            });
        });
    });

    /* ---------- start ---------- */

    var everConnected = false;
    servConn.init({ name: 'dashboard' }, {
        onConnChange: function (connected) {
            if (connected) {
                setConn('on', 'connected');
                $('#login').hidden = true;
                $('#app').hidden = false;
                var u = servConn.getUser();
                $('#user').textContent = servConn.getIsLoginRequired() && u ? u : '';
                $('#logout').hidden = !servConn.getIsLoginRequired();
                if (!everConnected) {
                    everConnected = true;
                    setPattern($('#filter').value);
                    var current = document.querySelector('.tabs button[aria-selected="true"]').getAttribute('data-tab');
                    selectTab(current);
                } else {
                    loadStates(); // values may have changed while we were away
                }
            } else {
                setConn('off', 'disconnected — reconnecting…');
            }
        },
        onUpdate: onUpdate,
        onAuthError: showLogin,
        onError: function (err) {
            console.warn('brokerd:', err);
        },
    }, false, false);
})();
