// Browser end-to-end scenarios of the demo shop on the buyer helper, in headless Chromium
// (Debian's /usr/bin/chromium driven by playwright-core), against a running local stack.
//
//   node tests/browser/e2e.mjs <scenario> <demoUrl> <artifactDir>
//
// Drives the real pages: the shop (/demo/), the sandbox's consent, MFA and account pages.
// Prints one JSON line with what it saw and measured, saves a screenshot of the final state
// as <artifactDir>/<scenario>.png, and exits 1 (with a screenshot of where it stopped) when
// a step does not happen. tests/tests/browser.rs runs each scenario and checks the backend.
// Waits are on conditions (an element, a URL, a text), never on time.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const FAILED_MFA = "Your payment was not successful. Please try another payment method.";
const [scenario, demoUrl, artifacts] = process.argv.slice(2);
const adminToken = process.env.SAVEDWALLET_ADMIN_TOKEN; // the merchant-view scenario's
if (!scenario || !demoUrl || !artifacts) {
  console.error("usage: e2e.mjs <scenario> <demoUrl> <artifactDir>");
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const origin = new URL(demoUrl).origin;
const STEP = 20_000; // the longest any one step may take before the scenario fails

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
page.setDefaultTimeout(STEP);
const consoleErrors = [];
page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
page.on("pageerror", (e) => consoleErrors.push(String(e)));
// Failed loads, with their URL (the console's own line has none). The sandbox's pages have
// no favicon, as a browser asks for one on every origin it visits: that one is not an error.
const failedLoads = [];
page.on("response", (r) => {
  const u = new URL(r.url());
  if (r.status() >= 400 && u.pathname !== "/favicon.ico") failedLoads.push(`${r.status()} ${u.pathname}`);
});

// Every request the page makes to the API's routes (not the demo's own files).
const calls = [];
page.on("request", (r) => {
  const u = new URL(r.url());
  if (u.origin === origin && (u.pathname.startsWith("/v1/") || u.pathname === "/demo/orders")) {
    calls.push(`${r.method()} ${u.pathname}`);
  }
});
const count = (pred) => calls.filter(pred).length;
const completes = () => count((c) => c.startsWith("POST ") && c.endsWith("/complete"));

const out = { scenario };

async function ready() {
  await page.waitForFunction(() => document.body.dataset.ready === "1");
}

async function rendered() {
  await page.waitForFunction(() => Number(document.body.dataset.rendered ?? 0) > 0);
}

async function open(url = demoUrl) {
  await page.goto(url);
  await ready();
}

async function signIn(customer) {
  await open();
  await page.fill("#customer", customer);
  await page.click("#sign-in-form button[type=submit]");
  await page.waitForSelector("#account:not([hidden])");
  await rendered();
}

async function notice() {
  await page.waitForFunction(() => document.getElementById("notice").textContent.length > 0);
  return page.textContent("#notice");
}

/** Sets up a Saved Wallet through the sandbox's consent page with a test card preset. */
async function setUpWallet(preset) {
  await page.click("#setup-wallet");
  await page.waitForURL((u) => u.origin !== origin);
  out.consentPage = new URL(page.url()).pathname.split("/")[1];
  await page.check(`input[name=preset][value=${preset}]`);
  await page.click("button[name=action][value=consent]");
  await page.waitForURL((u) => u.origin === origin);
  await ready();
  out.setupNotice = await notice();
  await rendered();
  const state = await page.textContent("#wallets tr [data-field=state]");
  if (state !== "Chargeable") throw new Error(`the new wallet is ${state}`);
  out.walletState = state;
}

/** Clicks "Pay … now" on the first product and waits to leave for Amazon's MFA page. */
async function payFirstProductToMfa() {
  const before = calls.length;
  out.paySentAt = calls.length;
  await page.click("#products .product button");
  await page.waitForURL((u) => u.origin !== origin && u.pathname.startsWith("/mfa/"));
  out.mfaPage = true;
  return before;
}

async function mfa(outcome) {
  await page.click(`button[name=outcome][value=${outcome}]`);
  await page.waitForURL((u) => u.origin === origin);
  await ready();
}

function paymentStatus() {
  return page.textContent("#payments tr [data-field=status]");
}

async function waitPaymentStatus(status) {
  await page.waitForFunction((s) =>
    document.querySelector("#payments tr [data-field=status]")?.textContent === s, status);
}

/** The local stack's /dev/jobs/run: waits until the sandbox's IPNs are delivered, runs the jobs. */
async function settle() {
  const r = await page.request.post(`${origin}/dev/jobs/run`);
  if (!r.ok()) throw new Error(`/dev/jobs/run answered ${r.status()}`);
}

const scenarios = {
  async "wallet-setup"() {
    await signIn("buyer-setup");
    await setUpWallet("always-approve");
    out.addressAfterReturn = new URL(page.url()).search;
    out.wallets = await page.locator("#wallets tr").count();
  },

  async "mfa-approve"() {
    await signIn("buyer-mfa");
    await setUpWallet("mfa-required");
    const before = await payFirstProductToMfa();
    await mfa("approved");
    out.notice = await notice();
    await rendered();
    await waitPaymentStatus("succeeded");
    out.paymentStatus = await paymentStatus();
    // The helper's calls in the round trip: the charge and the completion (the demo's own
    // order creation and list reads are counted apart).
    const trip = calls.slice(before);
    out.helperCallsPerMfaRoundTrip = trip.filter((c) =>
      /^POST \/v1\/orders\/[^/]+\/pay$/.test(c) || c.endsWith("/complete")).length;
    out.pageCallsPerMfaRoundTrip = trip.length;
    out.completeCalls = completes();
    out.addressAfterReturn = new URL(page.url()).search;
    out.helperReadyMs = await page.evaluate(() => window.__helperReadyMs);
    out.helperInitMs = await page.evaluate(() => window.__helperInitMs);
  },

  async "mfa-fail"() {
    await signIn("buyer-fail");
    await setUpWallet("mfa-required");
    await payFirstProductToMfa();
    await mfa("failed");
    // The helper sends the buyer to the checkout start, where the page shows the message.
    await page.waitForURL((u) => u.searchParams.get("view") === "checkout");
    await ready();
    out.view = await page.evaluate(() => document.body.dataset.view);
    out.notice = await notice();
    if (out.notice !== FAILED_MFA) throw new Error(`the notice says ${out.notice}`);
    await rendered();
    out.paymentStatus = await paymentStatus();
    out.completeCalls = completes();
  },

  async "mfa-abandon"() {
    await signIn("buyer-abandon");
    await setUpWallet("mfa-required");
    await payFirstProductToMfa();
    await mfa("abandoned");
    await page.waitForURL((u) => u.searchParams.get("view") === "checkout");
    await ready();
    out.notice = await notice();
    await rendered();
    out.paymentStatus = await paymentStatus();
    out.completeCalls = completes();
  },

  async "reload-return"() {
    await signIn("buyer-reload");
    await setUpWallet("mfa-required");
    await payFirstProductToMfa();
    // Keep the return URL exactly as Amazon sends the buyer back.
    const back = page.waitForRequest((r) => new URL(r.url()).searchParams.has("amazonCheckoutSessionId"));
    await page.click("button[name=outcome][value=approved]");
    const returnUrl = (await back).url();
    await page.waitForURL((u) => u.origin === origin);
    await ready();
    await waitPaymentStatus("succeeded");
    out.completeCallsFirst = completes();
    // A reload, then the return URL itself again (Back, history, a restored tab).
    await page.reload();
    await ready();
    await rendered();
    await page.goto(returnUrl);
    await ready();
    await page.waitForFunction(() => document.body.dataset.returned !== undefined);
    await rendered();
    out.completeCalls = completes();
    out.returnedAgain = await page.evaluate(() => document.body.dataset.returned);
    out.paymentStatus = await paymentStatus();
  },

  async "hard-decline-update"() {
    await signIn("buyer-hard");
    await setUpWallet("hard-decline-until-updated");
    await page.click("#products .product button");
    await waitPaymentStatus("declined");
    out.declined = await paymentStatus();
    out.declineNotice = await notice();
    // The buyer comes back a minute later (the test stack's clock is frozen and moves only
    // when told; Amazon's update notification always comes after the decline).
    const moved = await page.request.post(`${origin}/dev/clock/advance`, { data: { seconds: 60 } });
    if (!moved.ok()) throw new Error(`/dev/clock/advance answered ${moved.status()}`);
    // The payment's update link (buyerAction.url) → the sandbox's account page.
    await page.click("#payments tr button.secondary");
    await page.waitForURL((u) => u.origin !== origin && u.pathname.startsWith("/jr/your-account/ba/"));
    out.updatePage = true;
    await page.check("input[name=preset][value=always-approve]");
    await page.click("form:has(input[name=action][value=update]) button[type=submit]");
    await page.waitForURL((u) => u.searchParams.get("done") === "updated");
    // Back at the shop once Amazon's Chargeable IPN has been applied.
    await settle();
    await open();
    await rendered();
    out.walletStateAfterUpdate = await page.textContent("#wallets tr [data-field=state]");
    await page.click("#payments tr button:not(.secondary)");
    await waitPaymentStatus("succeeded");
    out.paymentStatus = await paymentStatus();
  },

  async "merchant-view"() {
    await signIn("buyer-ops");
    await setUpWallet("hard-decline-until-updated");
    await page.click("#products .product button");
    await waitPaymentStatus("declined");
    await setUpWallet("always-approve");
    // Wallets are listed newest first: "Pay with" now shows the new, chargeable one.
    await page.click("#plans .product:last-child button");
    await page.waitForFunction(() =>
      document.querySelector("#subscriptions tr [data-field=status]")?.textContent === "active");
    await settle(); // the jobs deliver the merchant events
    // The banner's link: the token in the fragment, dropped from the address bar at once.
    await page.goto(`${new URL("merchant.html", demoUrl)}#token=${encodeURIComponent(adminToken)}`);
    await page.waitForFunction(() => Number(document.body.dataset.rendered ?? 0) > 0);
    out.addressHash = new URL(page.url()).hash;
    out.paymentStatuses = await page.$$eval("#payments [data-field=status]", (n) => n.map((x) => x.textContent));
    out.attempts = await page.$$eval("#payments [data-field=attempt]", (n) => n.map((x) => x.textContent));
    out.activeCount = await page.textContent("[data-status=active] [data-field=count]");
    out.walletsToUpdate = await page.$$eval("#wallets tr", (n) => n.map((x) => x.dataset.wallet));
    out.walletCustomers = await page.$$eval("#wallets tr td:first-child", (n) => n.map((x) => x.textContent));
    out.eventTypes = await page.$$eval("#events tr", (n) => n.map((x) => x.dataset.event));
    out.eventsDelivered = await page.$$eval("#events tr td:nth-child(4)", (n) =>
      n.every((x) => x.textContent.startsWith("delivered")));
  },

  async "subscribe-cancel"() {
    await signIn("buyer-sub");
    await setUpWallet("always-approve");
    await page.click("#plans .product button");
    await page.waitForFunction(() =>
      document.querySelector("#subscriptions tr [data-field=status]")?.textContent === "active");
    out.subscribed = "active";
    await page.click("#subscriptions tr button");
    await page.waitForFunction(() =>
      document.querySelector("#subscriptions tr [data-field=status]")?.textContent === "canceled");
    out.subscriptionStatus = "canceled";
    // And the wallet closed from the account page.
    await page.click("#wallets tr button:has-text('Close')");
    await page.waitForFunction(() =>
      document.querySelector("#wallets tr [data-field=state]")?.textContent === "Closed");
    out.walletState = "Closed";
  },
};

let code = 0;
try {
  const run = scenarios[scenario];
  if (!run) throw new Error(`no scenario ${scenario}; known: ${Object.keys(scenarios).join(", ")}`);
  await run();
  out.ok = true;
} catch (e) {
  out.ok = false;
  out.error = String(e?.stack ?? e);
  out.url = page.url();
  code = 1;
}
out.calls = calls;
// The console's "Failed to load resource" lines are the loads above; keep the rest.
out.consoleErrors = consoleErrors.filter((e) => !e.startsWith("Failed to load resource"));
out.failedLoads = failedLoads;
await page.screenshot({ path: join(artifacts, `${scenario}.png`), fullPage: true }).catch(() => {});
await browser.close();
console.log(JSON.stringify(out));
process.exit(code);
