#!/usr/bin/env node
// A stand-in for batond's web endpoints, for developing the dashboard and the
// rep panel without a database: it serves lib/web/*.html (read afresh on
// every request, so an edit shows on reload) and fake JSON and SSE shaped
// exactly like the daemon's, including the admin cookie and the panel token.
//
//   node tests/browser/mock-server.js [--port N] [--admin-token T] [--panel-token T]
//
// It prints "mock: listening on PORT" once ready (port 0 picks a free one).
// POST /mock/push[?rep=ID] pushes a new suggestion to that rep's panels: the
// browser tests use it as their trigger. Only ever binds to 127.0.0.1.
'use strict';

const http = require('http');
const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
const opt = (name, def) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const PORT = Number(opt('port', process.env.PORT || 8099));
const ADMIN_TOKEN = opt('admin-token', 'admin-token');
const PANEL_TOKEN = opt('panel-token', 'panel-token');
const WEB_DIR = path.resolve(__dirname, '../../lib/web');

// What the daemon would send with its pages; serving the pages under it here
// proves they need nothing more.
const PAGE_HEADERS = {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; " +
        "style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; " +
        "base-uri 'none'; form-action 'none'",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
};

/* ------------------------------------------------------------- fake data */

// A small deterministic generator, so screenshots compare across runs.
function rng(seed) {
    let x = seed >>> 0 || 1;
    return () => {
        x ^= x << 13; x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5; x >>>= 0;
        return x / 4294967296;
    };
}

const VERSIONS = [
    { version: 3, name: 'Mid-market new business', activated_at: '2026-12-04T10:00:00Z' },
    { version: 2, name: 'Mid-market new business', activated_at: '2026-10-20T08:30:00Z' },
    { version: 1, name: 'First motion', activated_at: '2026-09-01T09:00:00Z' },
];
const END_DAY = Date.parse('2026-12-10T00:00:00Z');
const FIRST_DAY = Date.parse('2026-09-01T00:00:00Z');
const DAY = 86400000;

// [asset, matched, delivered, failed, unroutable, opened, won/lost opened, won/lost not opened, verdict]
const ASSETS = [
    ['bc-acme', 48, 44, 2, 2, 27, 9, 3, 4, 8, 'adopted'],
    ['cs-globex-rollout', 31, 29, 1, 1, 15, 6, 2, 3, 5, 'adopted'],
    ['pg-midmarket-2026', 26, 25, 0, 1, 9, 3, 2, 2, 6, 'adopted'],
    ['deck-security-review', 22, 21, 1, 0, 3, 1, 1, 2, 7, 'ignored'],
    ['bc-initech', 17, 16, 0, 1, 2, 0, 1, 1, 5, 'ignored'],
    ['cs-umbrella-health', 4, 4, 0, 0, 2, 1, 0, 0, 1, 'too_early'],
    ['bc-hooli', 0, 0, 0, 0, 0, 0, 0, 0, 0, 'shelfware'],
    ['pg-enterprise-addon', 0, 0, 0, 0, 0, 0, 0, 0, 0, 'shelfware'],
];
const ACTIONS = {
    adopted: 'Keep it: reps open it at this moment.',
    ignored: 'Reps rarely open it: coach the reps who get it, or rework the asset.',
    too_early: 'Delivered too few times to judge; check again later.',
    shelfware: 'Never delivered: no play sends it, or the CRM data never reaches its play.',
};
const STAGES = [
    ['appointmentscheduled', 0.2], ['qualifiedtobuy', 0.3], ['presentationscheduled', 0.25],
    ['decisionmakerboughtin', 0.15], ['contractsent', 0.1],
];
const REPS = [['dana', 0.3], ['marcus', 0.25], ['priya', 0.2], ['tom', 0.15], ['lee', 0.1]];
const NUMERIC = ['matched', 'delivered', 'failed', 'unroutable', 'opened', 'won_opened',
    'lost_opened', 'won_not_opened', 'lost_not_opened'];

function windowOf(q) {
    const since = q.get('since'), until = q.get('until');
    const from = Math.max(FIRST_DAY, since ? Date.parse(`${since}T00:00:00Z`) : FIRST_DAY);
    const to = Math.min(END_DAY, until ? Date.parse(`${until}T00:00:00Z`) : END_DAY);
    const all = (END_DAY - FIRST_DAY) / DAY + 1;
    const days = to >= from ? (to - from) / DAY + 1 : 0;
    return { since: since || null, until: until || null, from, to, share: days / all };
}

function finish(row, withVerdict) {
    row.open_rate = row.delivered ? Math.round((row.opened / row.delivered) * 1000) / 1000 : null;
    row.median_minutes_to_open = row.opened ? 8 + ((row.delivered * 37) % 300) / 2 : null;
    if (!withVerdict) {
        delete row.verdict;
        delete row.action;
    }
    return row;
}

function totalsOf(rows) {
    const t = {};
    for (const k of NUMERIC) t[k] = rows.reduce((a, r) => a + (r[k] || 0), 0);
    return finish(t, false);
}

function adoption(q) {
    const by = q.get('by') || 'asset';
    const version = Number(q.get('motion_version') || 3);
    const w = windowOf(q);
    const f = w.share * (version === 3 ? 1 : version === 2 ? 0.8 : 0.5);
    const scale = (n) => Math.round(n * f);
    const base = ASSETS.map((a) => {
        const row = { asset: a[0] };
        NUMERIC.forEach((k, i) => { row[k] = scale(a[i + 1]); });
        row.opened = Math.min(row.opened, row.delivered);
        row.verdict = a[10];
        row.action = ACTIONS[a[10]];
        return row;
    });
    const totals = totalsOf(base);
    let rows;
    if (by === 'asset') {
        rows = base.map((r) => finish(r, true));
    } else {
        const groups = { stage: STAGES, rep: REPS, competitor: [['acme', 0.5], ['initech', 0.3], ['hooli', 0.2]],
            play: [['acme-at-demo', 0.4], ['pricing-late', 0.35], ['security-review', 0.25]] }[by];
        if (!groups) return [400, { error: `by must be asset, stage, competitor, rep or play` }];
        const r = rng(by.length * 7 + version);
        rows = groups.map(([key, share]) => {
            const row = { [by]: key };
            for (const k of NUMERIC) row[k] = Math.round(totals[k] * share);
            row.opened = Math.min(row.delivered, Math.round(row.delivered * (0.15 + r() * 0.6)));
            return finish(row, false);
        });
    }
    return [200, { by, since: w.since, until: w.until, motion_version: version, rows, totals }];
}

function opens(q) {
    const w = windowOf(q);
    const version = Number(q.get('motion_version') || 3);
    const r = rng(1000 + version);
    const days = [];
    for (let t = FIRST_DAY; t <= END_DAY; t += DAY) {
        const weekday = new Date(t).getUTCDay();
        const busy = weekday === 0 || weekday === 6 ? 0.15 : 1;
        const delivered = Math.round(r() * 7 * busy);
        const opened = Math.min(delivered, Math.round(delivered * (0.2 + r() * 0.5)));
        // Quiet days are left out, as the daemon may do.
        if (t >= w.from && t <= w.to && delivered + opened > 0)
            days.push({ day: new Date(t).toISOString().slice(0, 10), delivered, opened });
    }
    return [200, { days }];
}

/* ----------------------------------------------------------------- panel */

const NAMES = { dana: 'Dana Reyes', marcus: 'Marcus Chen' };
const DEALS = [
    ['Globex', 'contractsent', 'Contract sent', 'acme'],
    ['Initech renewal', 'presentationscheduled', 'Demo', 'initech'],
    ['Umbrella Corp', 'qualifiedtobuy', 'Qualified', null],
    ['Soylent', 'decisionmakerboughtin', 'Decision maker bought in', 'hooli'],
    ['Stark Industries', 'presentationscheduled', 'Demo', 'acme'],
    ['Wayne Enterprises', 'contractsent', 'Contract sent', null],
];
const ASSET_INFO = [
    ['bc-acme', 'battlecard', 'Beating Acme on price', 'acme-late'],
    ['deck-security-review', 'deck', 'Security review walkthrough', 'security-review'],
    ['cs-umbrella-health', 'case_study', 'How a hospital group cut onboarding to 3 weeks', 'healthcare-proof'],
    ['pg-midmarket-2026', 'pricing_guide', 'Mid-market pricing and discount bands 2026', 'pricing-late'],
    ['bc-initech', 'battlecard', 'Initech: where they fall short', 'initech-at-demo'],
];
let nextId = 40;
const suggestions = new Map(); // rep -> [newest first]
const streams = new Map();     // rep -> Set(res)

function makeSuggestion(rep, agoMinutes) {
    const id = nextId++;
    const d = DEALS[id % DEALS.length], a = ASSET_INFO[id % ASSET_INFO.length];
    return {
        delivery_id: id,
        created_at: new Date(Date.now() - agoMinutes * 60000).toISOString().replace(/\.\d+Z$/, 'Z'),
        deal: { source: 'hubspot', id: String(9000 + id), name: d[0], stage: d[1], stage_label: d[2], competitor: d[3] },
        asset: { id: a[0], kind: a[1], title: a[2] },
        play: a[3],
        link: `https://baton.example.com/o/tok${id}`,
        status: 'sent',
    };
}
function listOf(rep) {
    if (!suggestions.has(rep)) {
        const l = [];
        for (const m of [60 * 26, 60 * 5, 47, 12]) l.unshift(makeSuggestion(rep, m));
        suggestions.set(rep, l);
    }
    return suggestions.get(rep);
}
function push(rep) {
    const sg = makeSuggestion(rep, 0);
    listOf(rep).unshift(sg);
    for (const res of streams.get(rep) || []) res.write(`event: suggestion\ndata: ${JSON.stringify(sg)}\n\n`);
    return sg;
}

/* ----------------------------------------------------------------- serve */

function send(res, status, body, headers = {}) {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
    res.end(text);
}
function page(res, name) {
    fs.readFile(path.join(WEB_DIR, name), (err, data) => {
        if (err) return send(res, 500, { error: `cannot read ${name}` });
        res.writeHead(200, PAGE_HEADERS);
        res.end(data);
    });
}
function isAdmin(req) {
    const cookie = (req.headers.cookie || '').split(/;\s*/).find((c) => c.startsWith('baton_admin='));
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization || '');
    return (cookie && cookie.slice('baton_admin='.length) === ADMIN_TOKEN) || (bearer && bearer[1] === ADMIN_TOKEN);
}

const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://mock.invalid');
    const p = url.pathname, q = url.searchParams;
    const admin = () => {
        if (isAdmin(req)) return true;
        send(res, 401, { error: 'admin token required' });
        return false;
    };

    if (p === '/dashboard') {
        if (q.has('token')) {
            const ok = q.get('token') === ADMIN_TOKEN;
            res.writeHead(303, {
                Location: '/dashboard',
                ...(ok ? { 'Set-Cookie': `baton_admin=${ADMIN_TOKEN}; HttpOnly; SameSite=Strict; Path=/` } : {}),
            });
            return res.end();
        }
        return page(res, 'dashboard.html');
    }
    if (p === '/v1/motion/versions')
        return admin() && send(res, 200, { active: 3, versions: VERSIONS });
    if (p === '/v1/reports/adoption') {
        if (!admin()) return;
        const [status, body] = adoption(q);
        return send(res, status, body);
    }
    if (p === '/v1/reports/opens') {
        if (!admin()) return;
        const [status, body] = opens(q);
        return send(res, status, body);
    }
    if (p === '/mock/push' && req.method === 'POST') {
        const sg = push(q.get('rep') || 'dana');
        return send(res, 200, sg);
    }
    const m = /^\/panel\/([^/]+)(\/suggestions|\/events)?$/.exec(p);
    if (m) {
        const rep = decodeURIComponent(m[1]);
        if (q.get('t') !== PANEL_TOKEN) return send(res, 401, { error: 'invalid panel token' });
        if (!m[2]) return page(res, 'panel.html');
        if (m[2] === '/suggestions')
            return send(res, 200, { rep: { id: rep, name: NAMES[rep] || rep }, suggestions: listOf(rep) });
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
        res.write('retry: 3000\n\n');
        if (!streams.has(rep)) streams.set(rep, new Set());
        streams.get(rep).add(res);
        const keepalive = setInterval(() => res.write(': keepalive\n\n'), 15000);
        req.on('close', () => {
            clearInterval(keepalive);
            streams.get(rep).delete(res);
        });
        return;
    }
    if (p === '/') {
        res.writeHead(302, { Location: `/dashboard?token=${encodeURIComponent(ADMIN_TOKEN)}` });
        return res.end();
    }
    send(res, 404, { error: 'not found' });
});

server.listen(PORT, '127.0.0.1', () => {
    console.log(`mock: listening on ${server.address().port}`);
    console.log(`mock: dashboard /dashboard?token=${ADMIN_TOKEN}  panel /panel/dana?t=${PANEL_TOKEN}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
