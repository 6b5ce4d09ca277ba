// Compiled with `tsc --noEmit` against the built package's .d.ts (scripts/test): every export
// of savedwallet-wasm used as a merchant's page would, so a typing that drifts from the
// helper breaks the build. Never run.
import init, {
  SavedWalletClient, checkRedirect, readReturn, initSync, start,
  type ClientConfig, type ChargeOutcome, type SubscribeOutcome, type ReturnOutcome, type SetupOutcome,
  type SetupStart, type PaymentResult, type PaymentStatus, type BuyerAction, type BuyerActionKind,
  type Wallet, type Subscription, type Money, type ReturnParams, type PendingState, type SavedWalletError,
} from "savedwallet-wasm";

// The rest of wasm-bindgen's surface: a synchronous init from bytes a bundler inlined, and
// the start hook (init runs it; calling it again is harmless).
export function fromBytes(bytes: BufferSource): void {
  initSync({ module: bytes });
  start();
}

export async function page(jwt: () => Promise<string>): Promise<void> {
  await init();
  const config: ClientConfig = {
    apiBaseUrl: "https://api.example.com",
    getToken: jwt,
    checkoutStartUrl: "/checkout",
    returnUrl: "/checkout/return",
    setupReturnUrl: "/account/wallet-return",
    allowedRedirectHosts: ["payments.amazon.de"],
    sandboxUrl: "http://127.0.0.1:8085",
    onFailure: "redirect",
  };
  const client = new SavedWalletClient(config);
  const hosts: string[] = client.allowedRedirectHosts;

  const back: ReturnOutcome | null = await client.completeReturn();
  if (back) {
    const ok: boolean = back.succeeded && !back.repeated;
    const msg: string | undefined = back.message ?? back.redirectingTo;
    console.log(ok, msg, back.payment.paymentId);
  }
  const setup: SetupOutcome | null = await client.completeWalletSetup();
  const wallet: Wallet | undefined = setup?.wallet;
  if (wallet && wallet.updateRequired) client.updatePaymentMethod(wallet.paymentMethodUpdateUrl);
  const used: Money | undefined = wallet?.monthlyUsage.used;

  const notice: string | undefined = client.takeNotice();
  const pending: PendingState | undefined = client.pending();
  const kind: "payment" | "setup" | undefined = pending?.kind;

  try {
    const start: SetupStart = await client.startWalletSetup();
    const charged: ChargeOutcome = await client.payOrder("ord_1", start.checkoutSessionId);
    const p: PaymentResult = charged.payment;
    const status: PaymentStatus = p.status;
    const action: BuyerAction | undefined = p.buyerAction;
    const actionKind: BuyerActionKind | undefined = action?.kind;
    if (actionKind === "update_payment_method" && action?.url) client.updatePaymentMethod(action.url);
    const sub: SubscribeOutcome = await client.subscribe("plan_1", "wal_1", "key-1");
    const s: Subscription = sub.subscription;
    const again: ChargeOutcome = await client.retryPayment(p.paymentId, s.walletId);
    const again2: ChargeOutcome = await client.retryPayment(p.paymentId);
    console.log(status, again.redirecting, again2.payment.amount.currencyCode, sub.redirecting);
  } catch (e) {
    const err = e as SavedWalletError;
    const branch: string = err.code;
    const retry: boolean = err.retryable;
    console.log(branch, retry, err.status, err.requestId, err.param, err.paymentId, err.name);
  }

  const url: string = checkRedirect("https://payments.amazon.com/x");
  const url2: string = checkRedirect("https://pay.example/x", ["pay.example"]);
  const params: ReturnParams | null = readReturn();
  const params2: ReturnParams | null = readReturn("https://shop.example/r?amazonCheckoutSessionId=S");
  console.log(hosts, used, notice, kind, url, url2, params?.paymentId, params2?.kind);
}
