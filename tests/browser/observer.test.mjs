// The observer page in a real browser: Debian's chromium (headless),
// driven by puppeteer-core, against the observer_demo example.
//
//   node observer.test.mjs <path to observer_demo> <screenshot.png>
//
// It starts the demo, reads the two URLs it prints, checks that the page
// and its API refuse requests without the token, opens the page, sees the
// supervision tree and the process table, sorts the table, opens a state
// machine's details, kills a worker from the page and sees it restarted
// (a new pid, one more restart), saves a screenshot and stops the demo.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

const [demoPath, screenshot] = process.argv.slice(2);
if (!demoPath || !screenshot) {
  console.error("usage: observer.test.mjs <observer_demo> <screenshot.png>");
  process.exit(2);
}

const step = (what) => console.log(`observer.test: ${what}`);
const profile = mkdtempSync(join(tmpdir(), "otpp-chromium-"));
const demo = spawn(demoPath, [], { stdio: ["ignore", "pipe", "inherit"] });
let browser = null;

async function urls() {
  return new Promise((resolve, reject) => {
    let text = "";
    const found = {};
    const timer = setTimeout(() => reject(new Error("observer_demo printed no URLs within 30 s")), 30000);
    demo.stdout.on("data", (chunk) => {
      text += chunk;
      for (const line of text.split("\n")) {
        const m = line.match(/^(metrics|observer): (\S+)$/);
        if (m) found[m[1]] = m[2];
      }
      if (found.metrics && found.observer) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    demo.on("exit", (code) => reject(new Error(`observer_demo exited early (${code})`)));
  });
}

async function main() {
  const { metrics, observer } = await urls();
  step(`demo up: ${observer}`);
  const page_url = new URL(observer);
  const token = page_url.searchParams.get("token");
  assert.ok(token && token.length >= 32, "the page's URL carries a long random token");

  // Without the token (or with a wrong one) nothing is served.
  for (const path of ["/", "/api/snapshot", "/api/events", "/api/kill?pid=x"]) {
    const r = await fetch(new URL(path, page_url.origin), { method: path.includes("kill") ? "POST" : "GET" });
    assert.equal(r.status, 401, `${path} without the token`);
  }
  assert.equal((await fetch(`${page_url.origin}/?token=${token.slice(1)}x`)).status, 401);
  const m = await fetch(metrics);
  assert.equal(m.status, 200);
  assert.match(await m.text(), /^otpp_processes \d+$/m);
  step("token enforced, metrics served");

  browser = await puppeteer.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    userDataDir: profile,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(observer);
  await page.waitForSelector('#conn[data-state="live"]', { timeout: 20000 });
  for (const id of ["service", "cache", "pool", "flaky", "door"])
    await page.waitForSelector(`.node[data-id="${id}"]`, { timeout: 20000 });
  const workers = await page.$$eval('.node[data-id="pool worker"]', (ns) => ns.length);
  assert.equal(workers, 3, "the pool's three dynamic workers are drawn");
  step("tree drawn");

  // The table: rows for the processes, sortable by reductions.
  await page.waitForFunction(() => document.querySelectorAll("#procs tbody tr").length >= 10);
  await page.locator('th[data-sort="reductions"]').click();
  const reds = await page.$$eval("#procs tbody tr", (rows) => rows.map((r) => Number(r.children[4].textContent)));
  for (let i = 1; i < reds.length; ++i)
    assert.ok(reds[i - 1] >= reds[i], `sorted by reductions, descending: ${reds.slice(0, 5)}`);
  step(`table of ${reds.length} processes sorted by reductions`);

  // Details of the state machine: its current state.
  await page.locator('.node[data-id="door"]').click();
  await page.waitForFunction(() => {
    const d = document.querySelector("#detail dl");
    return d && /current state/.test(d.textContent) && /statem door/.test(d.textContent);
  }, { timeout: 20000 });
  step("state machine details shown");

  // Kill the cache from the page: the supervisor restarts it.
  const before = await page.$eval('.node[data-id="cache"]', (n) => ({ pid: n.dataset.pid, restarts: Number(n.dataset.restarts) }));
  assert.match(before.pid, /^<\d+\.\d+\.\d+>$/);
  await page.locator('.node[data-id="cache"] button.kill').click();
  await page.waitForFunction((old) => {
    const n = document.querySelector('.node[data-id="cache"]');
    return n && n.dataset.pid && n.dataset.pid !== old.pid && Number(n.dataset.restarts) === old.restarts + 1;
  }, { timeout: 20000 }, before);
  const after = await page.$eval('.node[data-id="cache"]', (n) => n.dataset.pid);
  step(`killed ${before.pid} from the page; restarted as ${after}`);

  await page.screenshot({ path: screenshot, fullPage: true });
  step(`screenshot: ${screenshot}`);
  assert.deepEqual(errors, [], "no script errors on the page");
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`observer.test: FAILED: ${e.stack || e}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  const exited = new Promise((resolve) => demo.once("exit", (code) => resolve(code)));
  demo.kill("SIGTERM");
  const code = demo.exitCode ?? (await exited);
  if (code !== 0) {
    console.error(`observer.test: observer_demo ended with ${code} after SIGTERM`);
    failed = true;
  }
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
