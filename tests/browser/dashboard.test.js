// The adoption dashboard, signed in the way an admin does it: the charts
// render from the daemon's JSON, the funnel has one bar group per asset the
// report returns, the attention lists match the verdicts, and changing a
// filter reloads the data.
'use strict';

const path = require('path');
const { withPage, watch, fail } = require('./browser');

module.exports = async function dashboard({ baseUrl, adminToken, outputDir }) {
    const origin = new URL(baseUrl).origin;
    const start = new URL('/dashboard', baseUrl);
    start.searchParams.set('token', adminToken);

    await withPage({ width: 1280, height: 800 }, async (page) => {
        const problems = watch(page, origin);
        const res = await page.goto(start.href, { waitUntil: 'domcontentloaded' });
        if (!res || !res.ok()) fail(`GET /dashboard?token=… ended in HTTP ${res ? res.status() : 'nothing'}`);
        const landed = new URL(page.url());
        if (landed.pathname !== '/dashboard' || landed.searchParams.has('token'))
            fail(`opening /dashboard?token=… should end on /dashboard without the token, ended on ${landed.pathname}${landed.search}`);

        await page.waitForFunction(() => ['ready', 'error', 'unauthorized'].includes(document.body.dataset.state),
            { timeout: 20000 }).catch(() => fail('the dashboard did not finish loading within 20 s'));
        const state = await page.evaluate(() => document.body.dataset.state);
        if (state !== 'ready') {
            const text = await page.$eval('#notice', (n) => n.textContent.trim()).catch(() => '');
            fail(`the dashboard shows ${state}: ${text || 'no message'}`);
        }
        await page.waitForSelector('#funnel svg .bar-group .bar', { timeout: 10000 })
            .catch(() => fail('no bars in the funnel chart (#funnel svg .bar-group .bar)'));

        // Ask the API the same questions as the page, from the page, with its cookie.
        const seen = await page.evaluate(async () => {
            const get = (endpoint, extra) => {
                const p = new URLSearchParams(extra);
                for (const [k, id] of [['since', 'filter-since'], ['until', 'filter-until'], ['motion_version', 'filter-version']]) {
                    const v = document.getElementById(id).value;
                    if (v) p.set(k, v);
                }
                return fetch(`${endpoint}?${p}`, { credentials: 'same-origin' }).then(async (r) => {
                    if (!r.ok) throw new Error(`${endpoint}?${p} answered ${r.status}`);
                    return r.json();
                });
            };
            const q = (by) => get('/v1/reports/adoption', { by, format: 'json' });
            const keys = (sel) => [...document.querySelectorAll(sel)].map((g) => g.dataset.key);
            const [asset, stage, rep, opens] = await Promise.all([
                q('asset'), q('stage'), q('rep'), get('/v1/reports/opens', {})]);
            // A group with no key (no competitor, unroutable) is null in JSON and
            // an empty data-key on the page.
            const first = (r, by) => {
                const v = by in r ? r[by] : r[Object.keys(r)[0]];
                return v == null ? '' : String(v);
            };
            const verdict = (r) => String(r.verdict || '').toLowerCase().replace(/[\s-]+/g, '_');
            return {
                api: {
                    asset: asset.rows.map((r) => first(r, 'asset')),
                    stage: stage.rows.map((r) => first(r, 'stage')),
                    rep: rep.rows.map((r) => first(r, 'rep')),
                    shelfware: asset.rows.filter((r) => verdict(r) === 'shelfware').length,
                    ignored: asset.rows.filter((r) => verdict(r) === 'ignored').length,
                    days: (opens.days || []).filter((d) => d.delivered || d.opened).length,
                },
                page: {
                    asset: keys('#funnel svg .bar-group'),
                    stage: keys('#open-rate-stage svg .bar-group'),
                    rep: keys('#open-rate-rep svg .bar-group'),
                    shelfware: document.querySelectorAll('#shelfware li').length,
                    ignored: document.querySelectorAll('#ignored li').length,
                    svgs: ['#opens-over-time', '#win-rate'].filter((id) => !document.querySelector(`${id} svg`)),
                    dayBars: document.querySelectorAll('#opens-over-time svg .bar').length,
                },
            };
        });
        const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
        if (!same(seen.page.asset, seen.api.asset))
            fail(`the funnel has ${seen.page.asset.length} bar groups [${seen.page.asset}] but the report has ` +
                 `${seen.api.asset.length} asset rows [${seen.api.asset}]`);
        for (const by of ['stage', 'rep'])
            if (!same(seen.page[by], seen.api[by]))
                fail(`open rate by ${by}: the chart shows [${seen.page[by]}], the report has [${seen.api[by]}]`);
        for (const list of ['shelfware', 'ignored'])
            if (seen.page[list] !== seen.api[list])
                fail(`#${list} lists ${seen.page[list]} assets, the report has ${seen.api[list]}`);
        if (seen.page.svgs.includes('#win-rate')) fail('#win-rate has no chart');
        if (seen.api.days > 0 && (seen.page.svgs.includes('#opens-over-time') || seen.page.dayBars === 0))
            fail(`#opens-over-time has no bars though the report has ${seen.api.days} days`);

        await page.screenshot({ path: path.join(outputDir, 'dashboard.png'), fullPage: true });

        // A filter change must reload: watch for the report being asked again with it.
        const since = await page.evaluate(() => {
            const d = new Date(Date.now() - 30 * 86400000).toISOString().slice(0, 10);
            const el = document.getElementById('filter-since');
            el.value = d;
            el.dispatchEvent(new Event('change', { bubbles: true }));
            return d;
        });
        await page.waitForRequest((r) => r.url().includes('/v1/reports/adoption') && r.url().includes(`since=${since}`),
            { timeout: 5000 }).catch(() => fail('changing #filter-since did not reload the report'));
        await page.waitForFunction(() => document.body.dataset.state !== 'loading', { timeout: 20000 })
            .catch(() => fail('the dashboard did not finish reloading within 20 s'));
        const after = await page.evaluate(() => document.body.dataset.state);
        if (after !== 'ready') fail(`after changing a filter the dashboard shows ${after}`);
        if (problems.length) fail(problems.join('\n'));
    });
};
