// Runs the browser tests one after the other and prints one line each and a
// total. Arguments: BASE_URL ADMIN_TOKEN PANEL_URL OUTPUT_DIR; TRIGGER_CMD in
// the environment. Exit status 1 if any test failed.
'use strict';

const fs = require('fs');
const { TestFailure } = require('./browser');

const [baseUrl, adminToken, panelUrl, outputDir] = process.argv.slice(2);
const ctx = { baseUrl, adminToken, panelUrl, outputDir, triggerCmd: process.env.TRIGGER_CMD || '' };
const tests = [
    ['dashboard', require('./dashboard.test')],
    ['panel', require('./panel.test')],
];

(async () => {
    fs.mkdirSync(outputDir, { recursive: true });
    let passed = 0, failed = 0;
    for (const [name, run] of tests) {
        const t0 = Date.now();
        try {
            await run(ctx);
            passed++;
            console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
        } catch (e) {
            failed++;
            const why = e instanceof TestFailure ? e.message : (e && e.stack) || String(e);
            console.log(`FAIL ${name}: ${why.replace(/\n/g, '\n     ')}`);
        }
    }
    console.log(`browser: ${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
})();
