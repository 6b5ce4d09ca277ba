// What the shop's page and the merchant view both use: building elements and showing
// money, times and states.

/** `document.createElement` with attributes (`on…` ones as listeners) and children. */
export function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) e.append(k instanceof Node ? k : document.createTextNode(String(k ?? "")));
  return e;
}

export const money = (m) => (m ? `${m.amount} ${m.currencyCode}` : "");
export const when = (t) => (t ? new Date(t).toLocaleString() : "");
/** The CSS class of a wallet, payment or subscription state: good, wait or bad. */
export const stateClass = (s) =>
  ({ Chargeable: "good", succeeded: "good", active: "good", authorized: "good",
     pending: "wait", action_required: "wait", incomplete: "wait", past_due: "wait" }[s] ?? "bad");
