// Shared by the browser tests: launching Debian's Chromium the same way every
// time, each test in a fresh profile, and failing with a readable message.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

class TestFailure extends Error {}
const fail = (message) => {
    throw new TestFailure(message);
};

// Runs BODY(page) in a new browser with a new profile; both are gone
// afterwards, pass or fail.
async function withPage(viewport, body) {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-chromium-'));
    let browser = null;
    try {
        browser = await puppeteer.launch({
            executablePath: CHROMIUM,
            headless: true,
            args: ARGS,
            userDataDir: profile,
            defaultViewport: viewport,
            protocolTimeout: 60000,
        });
        const page = await browser.newPage();
        page.setDefaultTimeout(20000);
        return await body(page);
    } finally {
        if (browser) await browser.close().catch(() => {});
        fs.rmSync(profile, { recursive: true, force: true });
    }
}

// Collects what a page did wrong while a test ran: uncaught errors, and any
// request that left the page's own origin (the pages must work offline).
function watch(page, origin) {
    const problems = [];
    page.on('pageerror', (e) => problems.push(`uncaught error in the page: ${e.message}`));
    page.on('request', (r) => {
        const u = new URL(r.url());
        if (u.protocol === 'data:' || u.protocol === 'blob:') return;
        if (u.origin !== origin) problems.push(`the page requested an outside address: ${r.url()}`);
    });
    return problems;
}

module.exports = { withPage, watch, fail, TestFailure };
