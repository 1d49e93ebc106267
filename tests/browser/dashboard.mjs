// The dashboard end to end in Debian's chromium, driven by playwright-core, against a real
// `overseer run` that tests/dashboard_browser.rs started. The Rust test is the other half: this
// script asks it (one JSON line on stdout, one JSON line back on stdin) to submit tasks and to
// check what only the services show (the completion on Kafka, the stored decision, the
// workflow as the API answers it, the queue's state). Screenshots of every view at 1280 px and
// at phone width go to $SHOTS.

import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const { BASE, ADMIN_TOKEN, VIEWER_TOKEN, SHOTS, DOWNLOADS } = process.env;
const WAIT = 30_000;
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** Asks the Rust side; its answer must say ok. */
async function ask(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
  const { value, done } = await lines.next();
  if (done) throw new Error(`no answer to ${message.ask}`);
  const reply = JSON.parse(value);
  if (!reply.ok) throw new Error(`${message.ask}: ${reply.error}`);
  return reply;
}

function expect(condition, what) {
  if (!condition) throw new Error(`expected: ${what}`);
}

const log = (...parts) => console.error("[browser]", ...parts);

mkdirSync(SHOTS, { recursive: true });
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
// Headless chromium shows no notifications: the page's Notification is replaced by one that
// records what the page asked to show, and the tab can pretend to be in the background.
await context.addInitScript(() => {
  window.__notes = [];
  window.Notification = class {
    static permission = "granted";
    static requestPermission() { return Promise.resolve("granted"); }
    constructor(title, options) { window.__notes.push({ title, body: options?.body }); }
    close() {}
  };
  Object.defineProperty(document, "hidden", { configurable: true, get: () => window.__background === true });
});
const page = await context.newPage();
page.setDefaultTimeout(WAIT);
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => {
  // A refused resource (the 401 of the first session check) is expected; script errors and
  // content-security-policy violations are not.
  if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(`console: ${m.text()}`);
});

async function signIn(token, who) {
  await page.goto(`${BASE}/api/hitl/dashboard`);
  await page.locator("#login").waitFor({ state: "visible" });
  await page.fill("#token", token);
  await page.click("#login-form button[type=submit]");
  await page.locator("#nav").waitFor({ state: "visible" });
  expect((await page.textContent("#who")).includes(who), `signed in as ${who}`);
  await page.locator("#live.on").waitFor();
}

const card = (taskId) => page.locator(".card", { hasText: `task ${taskId}` });

/** Submits a task and waits until its card shows in the inbox, without a reload. */
async function arrives(name) {
  await page.click("#nav a[data-view=inbox]");
  await page.evaluate(() => { window.__sameDocument = true; });
  const { task_id } = await ask({ ask: "submit", name });
  const parked = Date.now(); // the Rust side answers once the decision is on hitl.requests
  await card(task_id).waitFor({ timeout: 3000 });
  const ms = Date.now() - parked;
  expect(await page.evaluate(() => window.__sameDocument === true), "the card came without a reload");
  const decision_id = await card(task_id).getAttribute("data-id");
  log(`decision ${decision_id} of task ${task_id} showed ${ms} ms after it was parked`);
  return { task_id, decision_id, ms };
}

async function shots(suffix) {
  for (const view of ["inbox", "escalated", "history", "analytics", "workflows", "operations"]) {
    await page.click(`#nav a[data-view=${view}]`);
    await page.locator(`#view-${view}`).waitFor({ state: "visible" });
    await page.waitForLoadState("networkidle").catch(() => {});
    if (view === "analytics") await page.locator("#analytics-charts .chart").first().waitFor();
    if (view === "workflows") await page.locator("#workflows-list .card").first().waitFor();
    if (view === "operations") await page.locator("#operations-queues tbody tr").first().waitFor();
    await page.waitForTimeout(300);
    await page.evaluate(() => document.querySelector("#toast").replaceChildren());
    await page.screenshot({ path: join(SHOTS, `${view}${suffix}.png`) });
  }
}

// Whatever fails: a screenshot of the page as it was, for the person reading the failure.
process.on("uncaughtException", async (e) => {
  const pending = await page.evaluate(() => fetch("/api/hitl/pending").then((r) => r.text())).catch((err) => String(err));
  console.error("[browser] failed:", e.message, problems, "pending now:", pending.slice(0, 2000));
  await page.screenshot({ path: process.env.FAILURE_SHOT || "failure.png" }).catch(() => {});
  process.exit(1);
});

// 1. Sign in; a decision appears live.
await signIn(ADMIN_TOKEN, "ada (admin)");
// In the background, a new decision raises a notification.
await page.evaluate(() => { window.__background = true; });
const first = await arrives("edit");
// The card may come from a reload that ran just before the feed's change event: wait for it.
await page.waitForFunction(() => window.__notes.some((n) => /1 new decision waits for a person/.test(n.body)), null, { timeout: 5000 })
  .catch(async () => expect(false, `a notification for the new decision: ${JSON.stringify(await page.evaluate(() => window.__notes))}`));
await page.evaluate(() => { window.__background = false; });

// 2. Edit and approve it with feedback: an edit beyond the policy is refused before sending.
await card(first.task_id).locator("[data-act=edit]").click();
await page.locator("#detail[open] #detail-editor").waitFor();
const proposal = JSON.parse(await page.inputValue("#detail-editor"));
expect(proposal.actions[0].action === "refund" && proposal.actions[0].amount === 40, "the model's refund of 40 is shown");
proposal.actions[0].amount = 5000;
await page.fill("#detail-editor", JSON.stringify(proposal, null, 2));
await page.locator("#edit-check.err", { hasText: "refund_limit" }).waitFor();
expect(await page.isDisabled("#approve-edited"), "a refused edit cannot be sent");
await page.fill("#detail-editor", "{ not json");
await page.locator("#edit-check.err", { hasText: "Not JSON" }).waitFor();
proposal.actions[0].amount = 15;
await page.fill("#detail-editor", JSON.stringify(proposal, null, 2));
await page.locator("#edit-check.ok").waitFor();
await page.fill("#detail-feedback", "partial damage: refund 15");
await page.screenshot({ path: join(SHOTS, "decision.png") });
await page.click("#approve-edited");
await page.locator("#detail").waitFor({ state: "hidden" });
await card(first.task_id).waitFor({ state: "detached" });
await ask({ ask: "approved", task_id: first.task_id, decision_id: first.decision_id, amount: 15, feedback: "partial damage: refund 15" });

// 3. Reject another: a rejection asks for feedback first.
const second = await arrives("reject");
await card(second.task_id).locator("[data-act=reject]").click();
await page.locator("#detail[open] #detail-feedback:focus").waitFor();
// Feedback a spreadsheet would run as a formula: the CSV export must defuse it.
await page.fill("#detail-feedback", "=2+3 wrong customer");
await page.click("#detail-reject");
await card(second.task_id).waitFor({ state: "detached" });
await ask({ ask: "rejected", decision_id: second.decision_id, feedback: "=2+3 wrong customer" });

// 4. Change a threshold; the API reads it back; the card shows who changed it.
await page.click("#nav a[data-view=workflows]");
const workflow = page.locator('#workflows-list .card[data-id="order_processing"]');
// A range input cannot be typed into: set it as dragging would, with its input and change events.
await workflow.locator("input.threshold").evaluate((slider) => {
  slider.value = "0.9";
  slider.dispatchEvent(new Event("input", { bubbles: true }));
  slider.dispatchEvent(new Event("change", { bubbles: true }));
});
await workflow.locator(".changes li", { hasText: "confidence_threshold" }).filter({ hasText: "ada" }).waitFor();
await ask({ ask: "threshold", workflow: "order_processing", value: 0.9 });

// 5. History: filters, search, the decision's timeline, CSV export of what is filtered.
await page.click("#nav a[data-view=history]");
await page.locator(`#history-table tr[data-id="${first.decision_id}"]`).waitFor();
await page.locator(`#history-table tr[data-id="${second.decision_id}"]`).waitFor();
await page.selectOption("#history-filters select[name=status]", "rejected");
await page.click("#history-filters button[type=submit]");
await page.locator(`#history-table tr[data-id="${first.decision_id}"]`).waitFor({ state: "detached" });
expect(await page.locator(`#history-table tr[data-id="${second.decision_id}"]`).count() === 1, "the outcome filter keeps the rejection");
await page.selectOption("#history-filters select[name=status]", "");
await page.fill("#history-filters input[name=q]", "partial damage");
await page.click("#history-filters button[type=submit]");
await page.locator(`#history-table tr[data-id="${second.decision_id}"]`).waitFor({ state: "detached" });
await page.locator(`#history-table tr[data-id="${first.decision_id}"]`).waitFor();
await page.locator(`#history-table tr[data-id="${first.decision_id}"] button.link`).click();
const timeline = page.locator("#detail[open] .timeline");
await timeline.locator("li", { hasText: "completion published on ai.completions" }).waitFor();
expect(await timeline.locator("li", { hasText: "Approved" }).filter({ hasText: "edited" }).count() === 1, "the timeline shows the edited approval");
await page.keyboard.press("Escape");
await page.fill("#history-filters input[name=q]", "");
await page.selectOption("#history-filters select[name=workflow]", "order_processing");
await page.click("#history-filters button[type=submit]");
await page.locator(`#history-table tr[data-id="${second.decision_id}"]`).waitFor();
const [download] = await Promise.all([page.waitForEvent("download"), page.click("#history-csv")]);
const csvPath = join(DOWNLOADS, "history.csv");
await download.saveAs(csvPath);
await ask({ ask: "csv", path: csvPath, approved: first.decision_id, rejected: second.decision_id });

// 6. Operations: pause and resume the queue.
await page.click("#nav a[data-view=operations]");
const row = page.locator('#operations-queues tr[data-queue="auto_orders"]');
await row.locator("button", { hasText: "Pause" }).click();
await row.locator(".state.paused, .state.pausing").waitFor();
await ask({ ask: "paused", queue: "auto_orders", paused: true });
await row.locator("button", { hasText: "Resume" }).click();
await row.locator(".state.consuming").waitFor();
await ask({ ask: "paused", queue: "auto_orders", paused: false });

// 7. Keyboard: j selects the next card, o opens it.
const third = await arrives("keyboard");
await page.click("#nav a[data-view=inbox]");
await page.locator("#main").focus();
await page.keyboard.press("j");
await page.keyboard.press("o");
await page.locator("#detail[open] #detail-title", { hasText: third.decision_id }).waitFor();
await page.keyboard.press("Escape");

// 8. Screenshots of every view at 1280 px and at phone width.
await shots("");
await page.setViewportSize({ width: 390, height: 844 });
await shots("-phone");
await page.click("#nav a[data-view=inbox]");
await card(third.task_id).locator("[data-act=open]").click();
await page.locator("#detail[open]").waitFor();
await page.screenshot({ path: join(SHOTS, "decision-phone.png") });
await page.keyboard.press("Escape");
await page.setViewportSize({ width: 1280, height: 900 });

// The dark theme follows the system setting.
await page.emulateMedia({ colorScheme: "dark" });
await page.click("#nav a[data-view=inbox]");
await page.evaluate(() => document.querySelector("#toast").replaceChildren());
await page.screenshot({ path: join(SHOTS, "inbox-dark.png") });
await page.emulateMedia({ colorScheme: "light" });

// 9. Batch approval: two selected, one request, a result per decision.
const fourth = await arrives("batch");
await card(third.task_id).locator(".select").check();
await card(fourth.task_id).locator(".select").check();
await page.locator("#batch-count", { hasText: "2 selected" }).waitFor();
await page.click("#batch-approve");
await page.locator("#batch-results", { hasText: "2 of 2 approved" }).waitFor();
await card(third.task_id).waitFor({ state: "detached" });
await card(fourth.task_id).waitFor({ state: "detached" });
await ask({ ask: "decided", ids: [third.decision_id, fourth.decision_id], status: "approved" });

// 10. A viewer sees a decision but no button to decide it, and no admin views.
const fifth = await arrives("viewer");
await page.click("#logout");
await page.locator("#login").waitFor({ state: "visible" });
await signIn(VIEWER_TOKEN, "vic (viewer)");
await card(fifth.task_id).waitFor();
expect(await card(fifth.task_id).locator("[data-act=approve], [data-act=reject], [data-act=edit], .select, .feedback").count() === 0, "a viewer has no approve, edit, reject, select or feedback control");
expect(await page.locator("#nav a[data-view=workflows]").isHidden(), "a viewer has no workflows view");
expect(await page.locator("#nav a[data-view=operations]").isHidden(), "a viewer has no operations view");
await page.screenshot({ path: join(SHOTS, "inbox-viewer.png") });

expect(problems.length === 0, `no script errors: ${problems.join("; ")}`);
await ask({ ask: "done" });
await browser.close();
process.exit(0);
