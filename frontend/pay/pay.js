// The hosted pay page: the patient panel for the call and token in the URL fragment
// (never the query string, so they never reach a server's logs), configured by the
// deployment's ../config.json ({apiBase, wsUrl, stripeJsUrl}). A pay-later link also names
// its one request (payment_request_id): its token opens that request alone, for days.
import { loadCatalog } from "../callpay.js";

async function start() {
  const given = new URLSearchParams(location.hash.slice(1));
  const config = await fetch(new URL("../config.json", import.meta.url), { credentials: "omit" })
    .then((answer) => (answer.ok ? answer.json() : {}))
    .catch(() => ({}));
  const locale = given.get("locale") || config.locale || undefined;
  const text = await loadCatalog(locale);
  document.documentElement.lang = text.lang;
  document.documentElement.dir = text.dir;
  document.title = text._("Pay your clinic");
  document.getElementById("page-title").textContent = text._("Pay your clinic");
  const panel = document.getElementById("panel");
  panel.options = {
    apiBase: config.apiBase,
    wsUrl: config.wsUrl,
    stripeJsUrl: config.stripeJsUrl,
    callId: given.get("call_id"),
    token: given.get("token"),
    paymentRequestId: given.get("payment_request_id") || undefined,
    locale: text.lang,
  };
}

start();
