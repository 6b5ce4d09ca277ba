// The merchant view: what an operator looks at instead of reading logs, built on the admin
// list routes (recent payments, subscriptions by status, wallets to update, events).
import { el, money, stateClass, when } from "/demo/common.js";

const $ = (id) => document.getElementById(id);
const TOKEN = "demo:admin-token";
const STATUSES = ["active", "past_due", "incomplete", "canceled"];

async function admin(path) {
  const r = await fetch(path, { headers: { authorization: `Bearer ${sessionStorage.getItem(TOKEN)}` } });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(data.error?.message ?? r.statusText), { code: data.error?.code, status: r.status });
  return data;
}

function renderPayments({ payments }) {
  $("payments").replaceChildren(...payments.map((p) => el("tr", { "data-payment": p.paymentId },
    el("td", {}, when(p.createdAt)), el("td", {}, p.customerId), el("td", {}, money(p.amount)),
    el("td", {}, el("span", { class: `state ${stateClass(p.status)}`, "data-field": "status" }, p.status)),
    el("td", {}, el("ol", {}, p.attempts.map((a) => el("li", { "data-field": "attempt" },
      `${a.state}${a.reasonCode ? ` · ${a.reasonCode}` : ""}${a.chargeId ? ` · ${a.chargeId}` : ""}`)))),
    el("td", { class: "muted" }, p.message ?? ""))));
}

function renderSubscriptions(groups) {
  $("sub-groups").replaceChildren(...groups.map(({ status, subscriptions }) => el("div", { "data-status": status },
    el("h3", {}, `${status.replace("_", " ")} (`, el("span", { "data-field": "count" }, subscriptions.length), ")"),
    subscriptions.length === 0 ? el("p", { class: "muted" }, "None.") :
    el("table", {}, el("thead", {}, el("tr", {}, ["Customer", "Plan", "Price", "Next billing", "Latest payment"]
        .map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, subscriptions.map((s) => el("tr", { "data-subscription": s.subscriptionId },
        el("td", {}, s.customerId), el("td", {}, s.planId), el("td", {}, money(s.price)),
        el("td", {}, when(s.nextBillingAt)), el("td", {}, s.latestPayment?.status ?? ""))))))));
}

function renderWallets({ wallets }) {
  $("wallets").replaceChildren(...wallets.map((w) => el("tr", { "data-wallet": w.walletId },
    el("td", {}, w.customerId), el("td", {}, el("code", {}, w.walletId)),
    el("td", {}, el("span", { class: `state ${stateClass(w.state)}` }, w.state)),
    el("td", {}, w.reasons.join(", ")))));
  $("no-wallets").hidden = wallets.length > 0;
}

async function allEvents() {
  // Oldest first from the start; keep the newest 50 of at most 10 pages.
  let events = [];
  let cursor = null;
  for (let i = 0; i < 10; i++) {
    const page = await admin(`/admin/v1/events?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    events = events.concat(page.events).slice(-50);
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  return events.reverse();
}

function renderEvents(events) {
  $("events").replaceChildren(...events.map((e) => el("tr", { "data-event": e.type },
    el("td", {}, when(e.createdAt)), el("td", {}, el("code", {}, e.type)), el("td", {}, e.customerId ?? ""),
    el("td", {}, e.delivered ? `delivered (${e.deliveries})` : `due (${e.deliveries} tries)`),
    el("td", { class: "muted" }, el("code", {}, JSON.stringify(e.data))))));
}

async function load() {
  const [payments, groups, wallets, events] = await Promise.all([
    admin("/admin/v1/payments?limit=50"),
    Promise.all(STATUSES.map(async (status) =>
      ({ status, ...(await admin(`/admin/v1/subscriptions?status=${status}&limit=50`)) }))),
    admin("/admin/v1/wallets/update-required?limit=50"),
    allEvents(),
  ]);
  renderPayments(payments);
  renderSubscriptions(groups);
  renderWallets(wallets);
  renderEvents(events);
  $("token-form").hidden = true;
  $("views").hidden = false;
  $("refresh").hidden = false;
  $("notice").textContent = "";
  document.body.dataset.rendered = String(Number(document.body.dataset.rendered ?? 0) + 1);
}

async function open() {
  try {
    await load();
  } catch (e) {
    if (e.status === 401) sessionStorage.removeItem(TOKEN);
    $("notice").className = "bad";
    $("notice").textContent = e.status === 401 ? "That admin token was refused." : e.message;
    $("token-form").hidden = false;
  }
}

// The banner's link carries the token in the fragment: keep it for this tab, then drop it
// from the address bar (and so from history and screenshots).
const fromLink = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromLink) {
  sessionStorage.setItem(TOKEN, fromLink);
  history.replaceState(null, "", location.pathname + location.search);
}
$("token").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN, $("admin-token").value);
  open();
});
$("refresh").addEventListener("click", open);
if (sessionStorage.getItem(TOKEN)) open(); else $("token-form").hidden = false;
document.body.dataset.ready = "1";
