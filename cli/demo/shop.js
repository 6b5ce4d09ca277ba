// The demo shop's account page, on the buyer helper (savedwallet-wasm). The page reads the
// API directly for its lists; every charge, redirect and return goes through the helper.
import init, { SavedWalletClient } from "/demo/pkg/savedwallet_wasm.js";
import { el, money, stateClass, when } from "/demo/common.js";

const $ = (id) => document.getElementById(id);
const TOKEN = "demo:token", CUSTOMER = "demo:customer";
let client = null;
let config = null;

function notice(kind, text) {
  const n = $("notice");
  n.className = kind;
  n.textContent = text;
  if (text) n.scrollIntoView({ block: "nearest" });
}

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${sessionStorage.getItem(TOKEN)}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(data.error?.message ?? r.statusText), { code: data.error?.code });
  return data;
}

function describeError(e) {
  return e && e.code ? `${e.message} (${e.code})` : String(e?.message ?? e);
}

/** Runs a button's action: disabled while it runs, errors shown in the notice. */
function action(label, run, cls) {
  const b = el("button", { class: cls, type: "button" }, label);
  b.addEventListener("click", async () => {
    b.disabled = true;
    try { await run(); } catch (e) { notice("bad", describeError(e)); } finally { b.disabled = false; }
  });
  return b;
}

function showOutcome(payment, what) {
  const s = payment.status;
  if (s === "succeeded" || s === "authorized") notice("ok", `${what}: payment of ${money(payment.amount)} succeeded.`);
  else if (s === "pending") notice("info", `${what}: the payment is pending Amazon's answer.`);
  else notice("bad", payment.message ?? `${what}: the payment ${s}.`);
}

async function renderWallets() {
  const { wallets } = await api("GET", "/v1/wallets");
  const open = wallets.filter((w) => w.state !== "Closed");
  $("wallets").replaceChildren(...wallets.map((w) => el("tr", { "data-wallet": w.walletId },
    el("td", {}, w.paymentDescriptor ?? "Amazon Pay", el("br"), el("code", { class: "muted" }, w.walletId)),
    el("td", {}, el("span", { class: `state ${stateClass(w.state)}`, "data-field": "state" }, w.state),
      w.reasons.length ? el("div", { class: "muted" }, w.reasons.join(", ")) : "",
      w.updateRequired ? el("div", { class: "state bad" }, "Update needed") : ""),
    el("td", {}, `${money(w.monthlyUsage.used)} of ${money(w.monthlyUsage.limit)}`),
    el("td", {}, w.state === "Closed" ? "" : el("div", { class: "row" }, [
      action("Update payment method", async () => client.updatePaymentMethod(w.paymentMethodUpdateUrl), "secondary"),
      action("Close", async () => {
        await api("DELETE", `/v1/wallets/${encodeURIComponent(w.walletId)}`);
        notice("info", "The Saved Wallet was closed.");
        await renderAll();
      }, "secondary"),
    ])))));
  $("no-wallets").hidden = wallets.length > 0;
  const select = $("pay-wallet");
  const before = select.value;
  select.replaceChildren(...open.map((w) => el("option", { value: w.walletId },
    `${w.paymentDescriptor ?? "Amazon Pay"} (${w.state})`)));
  if (open.some((w) => w.walletId === before)) select.value = before;
}

function chosenWallet() {
  const w = $("pay-wallet").value;
  if (!w) throw new Error("Set up a Saved Wallet first.");
  return w;
}

function renderProducts() {
  $("products").replaceChildren(...config.products.map((p) => el("div", { class: "product" },
    el("h3", {}, p.name), el("p", { class: "muted" }, money(p.price)),
    action(`Pay ${money(p.price)} now`, async () => {
      const wallet = chosenWallet();
      const order = await api("POST", "/demo/orders", { sku: p.sku });
      const { payment, redirecting } = await client.payOrder(order.orderId, wallet);
      if (!redirecting) { showOutcome(payment, p.name); await renderAll(); }
    }))));
}

async function renderPlans() {
  const { plans } = await api("GET", "/v1/plans");
  $("plans").replaceChildren(...plans.map((p) => el("div", { class: "product" },
    el("h3", {}, p.name), el("p", { class: "muted" }, `${money(p.price)} every ${p.intervalCount} ${p.interval}`),
    action("Subscribe", async () => {
      const { payment, redirecting } = await client.subscribe(p.planId, chosenWallet());
      if (!redirecting) { showOutcome(payment, p.name); await renderAll(); }
    }))));
}

async function renderSubscriptions() {
  const { subscriptions } = await api("GET", "/v1/subscriptions");
  $("subscriptions").replaceChildren(...subscriptions.map((s) => el("tr", { "data-subscription": s.subscriptionId },
    el("td", {}, s.planId), el("td", {}, el("span", { class: `state ${stateClass(s.status)}`, "data-field": "status" }, s.status)),
    el("td", {}, when(s.nextBillingAt)),
    el("td", {}, s.status === "canceled" ? "" : action("Cancel", async () => {
      await api("DELETE", `/v1/subscriptions/${encodeURIComponent(s.subscriptionId)}`);
      notice("info", "The subscription was canceled.");
      await renderAll();
    }, "secondary")))));
}

async function renderPayments() {
  const { payments } = await api("GET", "/v1/payments");
  $("payments").replaceChildren(...payments.map((p) => el("tr", { "data-payment": p.paymentId },
    el("td", {}, when(p.createdAt)), el("td", {}, money(p.amount)),
    el("td", {}, el("span", { class: `state ${stateClass(p.status)}`, "data-field": "status" }, p.status)),
    el("td", { class: "muted" }, p.message ?? p.declineCode ?? ""),
    el("td", {}, el("div", { class: "row" },
      ["declined", "failed", "canceled"].includes(p.status)
        ? action("Try again", async () => {
            const { payment, redirecting } = await client.retryPayment(p.paymentId, chosenWallet());
            if (!redirecting) { showOutcome(payment, "Retry"); await renderAll(); }
          }) : "",
      p.buyerAction?.kind === "update_payment_method" && p.buyerAction.url
        ? action("Update payment method", async () => client.updatePaymentMethod(p.buyerAction.url), "secondary") : "")))));
}

async function renderAll() {
  await renderWallets();
  await Promise.all([renderPlans(), renderSubscriptions(), renderPayments()]);
  document.body.dataset.rendered = String(Number(document.body.dataset.rendered ?? 0) + 1);
}

function showSignedIn() {
  const who = sessionStorage.getItem(CUSTOMER);
  $("sign-in").hidden = !!who;
  $("account").hidden = !who;
  $("sign-out").hidden = !who;
  $("who").textContent = who ? `Signed in as ${who}` : "";
}

async function signIn(customerId) {
  const r = await fetch("/dev/token", { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ customerId }) });
  const data = await r.json();
  if (!r.ok) throw new Error(data.error?.message ?? "sign-in failed");
  sessionStorage.setItem(TOKEN, data.token);
  sessionStorage.setItem(CUSTOMER, customerId);
}

async function main() {
  const t = performance.now();
  await init(); // fetches and instantiates the .wasm beside the JS glue
  window.__helperInitMs = performance.now() - t;
  config = await (await fetch("/demo/config.json")).json();
  const here = `${location.origin}/demo/`;
  client = new SavedWalletClient({
    apiBaseUrl: location.origin,
    getToken: () => sessionStorage.getItem(TOKEN) ?? "",
    checkoutStartUrl: `${here}?view=checkout`,
    returnUrl: here,
    sandboxUrl: config.sandboxUrl,
  });
  // From navigation start to a configured helper (the README's "helper ready" figure).
  window.__helperReadyMs = performance.now();
  $("loading").hidden = true;
  document.body.dataset.ready = "1";

  $("sign-in-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try { await signIn($("customer").value); showSignedIn(); await renderAll(); }
    catch (e) { notice("bad", describeError(e)); }
  });
  $("sign-out").addEventListener("click", () => { sessionStorage.clear(); location.assign("/demo/"); });
  $("setup-wallet").addEventListener("click", async () => {
    try { await client.startWalletSetup(); } catch (e) { notice("bad", describeError(e)); }
  });

  showSignedIn();
  try {
    const setup = await client.completeWalletSetup();
    if (setup) notice("ok", `Your Saved Wallet was ${setup.repeated ? "already " : ""}added.`);
    const back = await client.completeReturn();
    if (back) {
      document.body.dataset.returned = back.succeeded ? "succeeded" : "failed";
      if (back.redirectingTo) return; // on the way to the checkout start
      if (back.succeeded) showOutcome(back.payment, "Your payment");
      else notice("bad", back.message);
    }
  } catch (e) {
    notice("bad", describeError(e));
  }
  const left = client.takeNotice();
  if (left) notice("bad", left);
  if (new URLSearchParams(location.search).get("view") === "checkout") {
    document.body.dataset.view = "checkout";
    $("checkout").scrollIntoView();
  }
  renderProducts();
  if (sessionStorage.getItem(CUSTOMER)) await renderAll().catch((e) => notice("bad", describeError(e)));
}

main().catch((e) => {
  $("loading").textContent = `The payment helper did not load: ${describeError(e)}`;
});
