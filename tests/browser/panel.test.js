// The rep panel: it lists the rep's suggestions, and a suggestion pushed
// while it is open appears at the top without the page reloading.
'use strict';

const path = require('path');
const { execFile } = require('child_process');
const { withPage, watch, fail, TestFailure } = require('./browser');

// TRIGGER_CMD makes the daemon push one new suggestion to the panel's rep.
function trigger(cmd) {
    return new Promise((resolve, reject) => {
        execFile('/bin/sh', ['-c', cmd], { timeout: 30000 }, (err, stdout, stderr) => {
            if (!err) return resolve();
            reject(new TestFailure(`TRIGGER_CMD failed (${err.killed ? 'timed out' : `exit ${err.code}`}): ` +
                `${cmd}\n${stderr || stdout}`));
        });
    });
}

module.exports = async function panel({ panelUrl, triggerCmd, outputDir }) {
    if (!triggerCmd) fail('TRIGGER_CMD is not set: it must name a shell command that pushes a new suggestion to this rep');
    const origin = new URL(panelUrl).origin;

    await withPage({ width: 440, height: 820 }, async (page) => {
        const problems = watch(page, origin);
        const res = await page.goto(panelUrl, { waitUntil: 'domcontentloaded' });
        if (!res || !res.ok()) fail(`GET ${new URL(panelUrl).pathname} answered HTTP ${res ? res.status() : 'nothing'}`);
        await page.waitForFunction(() => document.body.dataset.state !== 'loading', { timeout: 15000 })
            .catch(() => fail('the panel did not load its suggestions within 15 s'));
        if ((await page.evaluate(() => document.body.dataset.state)) !== 'ready')
            fail(`the panel shows an error: ${await page.$eval('#notice', (n) => n.textContent.trim())}`);
        await page.waitForFunction(() => document.querySelector('#status').dataset.state === 'live', { timeout: 15000 })
            .catch(async () => fail(`the event stream did not connect within 15 s (#status: ` +
                `${await page.$eval('#status', (n) => n.textContent.trim())})`));

        const before = await page.$$eval('#suggestions li[data-delivery-id]', (lis) => lis.map((li) => li.dataset.deliveryId));
        // A marker that only survives if the page is never reloaded or left.
        const marker = `baton-${process.pid}-${Date.now()}`;
        await page.evaluate((m) => { window.__batonMarker = m; }, marker);
        let navigated = null;
        page.on('framenavigated', (f) => {
            if (f === page.mainFrame()) navigated = f.url();
        });

        await trigger(triggerCmd);
        const added = await page.waitForFunction((known) => {
            const li = [...document.querySelectorAll('#suggestions li[data-delivery-id]')]
                .find((el) => !known.includes(el.dataset.deliveryId));
            return li ? li.dataset.deliveryId : false;
        }, { timeout: 15000 }, before).then((h) => h.jsonValue())
            .catch(() => fail(`no new suggestion appeared within 15 s of the trigger (the panel had ${before.length})`));

        if (navigated) fail(`the panel navigated to ${navigated} instead of updating in place`);
        if ((await page.evaluate(() => window.__batonMarker)) !== marker)
            fail('the page was reloaded: the marker set before the trigger is gone');
        const top = await page.evaluate(() => {
            const li = document.querySelector('#suggestions li[data-delivery-id]');
            const a = li.querySelector('a.open');
            return { id: li.dataset.deliveryId, target: a && a.target, rel: a && a.rel, href: a && a.href,
                count: document.querySelectorAll('#suggestions li[data-delivery-id]').length };
        });
        if (top.id !== added) fail(`the new suggestion ${added} is not at the top (the top one is ${top.id})`);
        if (top.count !== before.length + 1) fail(`expected ${before.length + 1} suggestions after the push, found ${top.count}`);
        if (!top.href || top.target !== '_blank' || !/\bnoopener\b/.test(top.rel))
            fail(`the new suggestion's Open link is wrong: href=${top.href} target=${top.target} rel=${top.rel}`);

        // Let the arrival animation finish, so the picture shows the settled page.
        await page.waitForFunction(() => document.querySelector('#suggestions li').getAnimations().length === 0,
            { timeout: 5000 }).catch(() => {});
        await page.screenshot({ path: path.join(outputDir, 'panel.png'), fullPage: true });
        if (problems.length) fail(problems.join('\n'));
    });
};
