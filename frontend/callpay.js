// callpay's in-call panels: <callpay-clinician-panel> and <callpay-patient-panel>.
//
// One dependency-free ES module, no build step: import it and place an element.
// Configuration by attributes (api-base, ws-url, call-id, token, locale, clinic-id,
// currency, email, stripe-js-url, patient-ref, payment-request-id) or one options object
// (element.options = {...}).
// Events out (bubbling, composed): callpay:requested, callpay:paid, callpay:failed,
// callpay:canceled, callpay:updated, callpay:expired.
// The call's WebSocket feed is the truth; Stripe.js's own answer is provisional.
// Every word comes from the gettext catalogs compiled to ./i18n/ (docs/frontend.md).

const MODULE_URL = import.meta.url;
export const DEFAULT_STRIPE_JS_URL = "https://js.stripe.com/v3/";

// -- money ---------------------------------------------------------------------------------

// Stripe's minor units (functions/callpay/domain/money.py; a test keeps them equal).
const ZERO_DECIMAL = new Set(["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg",
  "rwf", "vnd", "vuv", "xaf", "xof", "xpf"]);
const THREE_DECIMAL = new Set(["bhd", "jod", "kwd", "omr", "tnd"]);

export function exponentOf(currency) {
  const code = String(currency || "").toLowerCase();
  if (ZERO_DECIMAL.has(code)) return 0;
  if (THREE_DECIMAL.has(code)) return 3;
  return 2;
}

export function formatAmount(minor, currency, locale) {
  const exponent = exponentOf(currency);
  const format = new Intl.NumberFormat(locale, {
    style: "currency", currency: String(currency).toUpperCase(),
    minimumFractionDigits: exponent, maximumFractionDigits: exponent,
  });
  return format.format(minor / 10 ** exponent);
}

// Digits as people type them in other scripts (Arabic-Indic, Persian, full-width).
const DIGIT_ZEROS = [0x660, 0x6f0, 0xff10];

function asciiDigits(text) {
  return text.replace(/[\u0660-\u0669\u06f0-\u06f9\uff10-\uff19]/g, (digit) => {
    const code = digit.charCodeAt(0);
    const zero = DIGIT_ZEROS.find((start) => code >= start && code <= start + 9);
    return String(code - zero);
  });
}

// The amount a clinician typed ("80", "80.5", "80,50", "١٢٫٥") as integer minor units:
// {amount} or {problem: "empty" | "format" | "decimals" | "zero"}.
export function toMinorUnits(text, currency) {
  const exponent = exponentOf(currency);
  const typed = asciiDigits(String(text || "")).trim().replace(/[\u066b]/g, ".");
  if (!typed) return { problem: "empty" };
  const match = /^(\d{1,9})(?:[.,](\d+))?$/.exec(typed);
  if (!match) return { problem: "format" };
  const fraction = match[2] || "";
  if (fraction.length > exponent) return { problem: "decimals" };
  const amount = Number(match[1]) * 10 ** exponent + Number(fraction.padEnd(exponent, "0") || 0);
  if (amount <= 0) return { problem: "zero" };
  return { amount };
}

// -- text ----------------------------------------------------------------------------------

// A compiled catalog: messages keyed by their English msgid, so a missing translation
// shows English, never a key.
export class Catalog {
  constructor(locale = "en", lang = "en", dir = "ltr", messages = {}) {
    Object.assign(this, { locale, lang, dir, messages });
  }

  // The translation of msgid with {name} placeholders filled in.
  _(msgid, values = {}) {
    const text = this.messages[msgid] || msgid;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  }
}

const catalogs = new Map();

async function fetchJson(url) {
  const answer = await fetch(url, { credentials: "omit" });
  if (!answer.ok) throw new Error(`${url}: ${answer.status}`);
  return answer.json();
}

// The catalog key a BCP 47 tag asks for among those shipped ("fr-CA" -> "fr",
// "zh-CN" -> "zh_Hans", "zh-TW" -> "zh_Hant"), as the server matches it (CLDR's chains):
// `aliases` (index.json) holds the tags the browser's likely subtags alone would miss
// ("nn" -> "nb", "zh-MO" -> "zh_Hant_HK", "pt-AO" -> "pt_PT").
export function negotiate(tag, available, aliases = {}) {
  let parsed;
  try {
    parsed = new Intl.Locale(String(tag).replace(/_/g, "-")).maximize();
  } catch {
    return null;
  }
  const candidates = [`${parsed.language}_${parsed.script}_${parsed.region}`,
    `${parsed.language}_${parsed.region}`, `${parsed.language}_${parsed.script}`];
  // A language whose catalog names no script is written in its usual one.
  const usual = new Intl.Locale(parsed.language).maximize().script;
  if (parsed.script === usual) candidates.push(parsed.language);
  const found = candidates.map((key) => (key in available ? key : aliases[key]));
  return found.find((key) => key && key in available) || null;
}

// The catalog for the configured locale, else the browser's languages, else English.
export async function loadCatalog(requested) {
  const wanted = [requested, ...(globalThis.navigator?.languages || []), "en"].filter(Boolean);
  let index;
  try {
    index = await fetchJson(new URL("./i18n/index.json", MODULE_URL));
  } catch {
    return new Catalog();
  }
  const key = wanted.map((tag) => negotiate(tag, index.locales, index.aliases)).find(Boolean)
    || index.default;
  if (!catalogs.has(key)) {
    const info = index.locales[key];
    catalogs.set(key, fetchJson(new URL(`./i18n/${key}.json`, MODULE_URL))
      .then((data) => new Catalog(key, info.lang, info.dir, data.messages))
      .catch(() => new Catalog()));
  }
  return catalogs.get(key);
}

// -- the call's feed -----------------------------------------------------------------------

const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 15000;
// API Gateway closes sockets idle for 10 minutes.
const PING_EVERY_MS = 5 * 60 * 1000;

// The newest state of each request, by updated_at, whatever order the feed delivers in.
export class RequestBook {
  constructor() { this.byId = new Map(); }

  // Keep `request` if it is newer than what is known; true if it changed anything.
  put(request) {
    const known = this.byId.get(request.id);
    if (known && Date.parse(known.updated_at) > Date.parse(request.updated_at)) return false;
    if (known && known.updated_at === request.updated_at && known.status === request.status) {
      return false;
    }
    this.byId.set(request.id, request);
    return true;
  }

  // A snapshot is the call's whole state: requests it no longer lists are gone.
  replace(requests) {
    const listed = new Set(requests.map((request) => request.id));
    for (const id of [...this.byId.keys()]) if (!listed.has(id)) this.byId.delete(id);
    for (const request of requests) this.put(request);
  }

  get(id) { return this.byId.get(id); }

  // Newest first, as the API lists them.
  all() {
    return [...this.byId.values()].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
  }
}

class CallFeed {
  constructor({ wsUrl, callId, token, clinicId, onMessage, onState, onRefused }) {
    Object.assign(this, { wsUrl, callId, token, clinicId, onMessage, onState, onRefused });
    this.attempts = 0;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.ping);
    if (this.socket) this.socket.close();
  }

  url() {
    const url = new URL(this.wsUrl);
    url.searchParams.set("call_id", this.callId);
    url.searchParams.set("token", this.token);
    if (this.clinicId) url.searchParams.set("clinic_id", this.clinicId);
    return url.toString();
  }

  connect() {
    let opened = false;
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("open", () => {
      opened = true;
      this.attempts = 0;
      // A socket only hears what happens while it is open: ask for the whole state.
      socket.send(JSON.stringify({ action: "sync" }));
      this.ping = setInterval(() => socket.send(JSON.stringify({ action: "ping" })), PING_EVERY_MS);
      this.onState("live");
    });
    socket.addEventListener("message", (event) => {
      try {
        this.onMessage(JSON.parse(event.data));
      } catch (error) {
        console.warn("callpay: unreadable feed message", error);
      }
    });
    socket.addEventListener("close", async () => {
      clearInterval(this.ping);
      if (this.stopped || socket !== this.socket) return;
      this.onState("reconnecting");
      // A refused handshake looks like any other failure to a browser: ask the API why.
      if (!opened && (await this.onRefused())) return;
      const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** this.attempts);
      this.attempts += 1;
      this.retry = setTimeout(() => this.connect(), delay * (0.5 + Math.random() / 2));
    });
  }
}

// -- the API -------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    Object.assign(this, { status, code });
  }
}

class CallpayApi {
  constructor(base, token) {
    this.base = String(base || "").replace(/\/+$/, "");
    this.token = token;
  }

  async request(method, path, body, headers = {}) {
    let answer;
    try {
      answer = await fetch(`${this.base}${path}`, {
        method,
        credentials: "omit",
        headers: { Authorization: `Bearer ${this.token}`,
          ...(body ? { "Content-Type": "application/json" } : {}), ...headers },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch {
      throw new ApiError(0, "network_error");
    }
    if (answer.ok) return answer;
    let error = {};
    try {
      error = (await answer.json()).error || {};
    } catch { /* not JSON: the status says enough */ }
    throw new ApiError(answer.status, error.code || `http_${answer.status}`, error.message);
  }

  async json(method, path, body, headers) {
    return (await this.request(method, path, body, headers)).json();
  }
}

function idempotencyKey() {
  return globalThis.crypto?.randomUUID?.() || `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

// -- Stripe.js -----------------------------------------------------------------------------

let stripeScript = null;

// Stripe.js from its one address (js.stripe.com, or the local stand-in), loaded once.
function loadStripe(url) {
  if (globalThis.Stripe) return Promise.resolve(globalThis.Stripe);
  if (!stripeScript) {
    stripeScript = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.addEventListener("load", () => (globalThis.Stripe ? resolve(globalThis.Stripe)
        : reject(new Error("Stripe.js did not define Stripe"))));
      script.addEventListener("error", () => {
        stripeScript = null;
        reject(new Error(`could not load ${url}`));
      });
      document.head.append(script);
    });
  }
  return stripeScript;
}

// -- DOM -----------------------------------------------------------------------------------

// An element with attributes (on* as listeners) and children; text is always text.
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

const STYLES = `
:host { display: block; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", Arial, sans-serif;
  font-size: 1rem; line-height: 1.4; color: #0b0c0c; }
:host([hidden]) { display: none; }
* { box-sizing: border-box; }
.panel { padding-block: 16px; padding-inline: 16px; background: #fff; max-inline-size: 40rem; }
h2 { font-size: 1.5rem; margin-block: 0 16px; }
h3 { font-size: 1.125rem; margin-block: 0 8px; }
p { margin-block: 0 12px; }
.hint { color: #505a5f; margin-block: 0 8px; }
.visually-hidden { position: absolute !important; inline-size: 1px; block-size: 1px; overflow: hidden;
  clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; }
button { font: inherit; font-weight: 600; border: 2px solid transparent; border-radius: 0; cursor: pointer;
  padding-block: 8px; padding-inline: 12px; margin-block: 0 12px; margin-inline-end: 8px;
  background: #00703c; color: #fff; box-shadow: 0 2px 0 #002d18; }
button.secondary { background: #f3f2f1; color: #0b0c0c; box-shadow: 0 2px 0 #929191; }
button.warning { background: #d4351c; color: #fff; box-shadow: 0 2px 0 #55150b; }
button.link { background: none; box-shadow: none; color: #1d70b8; text-decoration: underline; padding-inline: 0; }
button:disabled { opacity: .6; cursor: wait; }
:focus-visible, a:focus { outline: 3px solid #ffdd00; outline-offset: 0; box-shadow: 0 0 0 6px #0b0c0c; }
label { display: block; font-weight: 600; margin-block: 0 4px; }
input[type=text], input[type=email], input[type=number], input:not([type]) { font: inherit; inline-size: 100%;
  max-inline-size: 24rem; padding: 6px; border: 2px solid #0b0c0c; border-radius: 0; }
input.amount { max-inline-size: 10rem; }
.field { margin-block: 0 20px; }
.field.error { border-inline-start: 5px solid #d4351c; padding-inline-start: 12px; }
.field.error input { border-color: #d4351c; }
.error-message { color: #d4351c; font-weight: 600; margin-block: 0 8px; }
.checkbox { display: flex; gap: 8px; align-items: flex-start; }
.checkbox input { inline-size: 24px; block-size: 24px; margin: 0; }
.checkbox label { font-weight: 400; }
.error-summary { border: 5px solid #d4351c; padding: 16px; margin-block: 0 20px; }
.error-summary h3 { margin-block: 0 8px; }
.error-summary ul { margin: 0; padding-inline-start: 20px; }
.error-summary a { color: #d4351c; font-weight: 600; }
.notification { border: 5px solid #00703c; margin-block: 0 20px; }
.notification .title { background: #00703c; color: #fff; padding: 4px 12px; margin: 0; font-weight: 600; }
.notification .body { padding: 12px; }
.notification.attention { border-color: #d4351c; }
.notification.attention .title { background: #d4351c; }
.confirmation { background: #00703c; color: #fff; padding: 20px; margin-block: 0 20px; text-align: center; }
.confirmation h2 { margin-block: 0 8px; }
.confirmation p { margin: 0; font-size: 1.125rem; }
.warning-text { border-inline-start: 5px solid #1d70b8; padding-inline-start: 12px; }
.policy { border-inline-start: 5px solid #1d70b8; padding-inline-start: 12px; margin-block: 0 20px; }
.policy-text { white-space: pre-line; }
ul.requests { list-style: none; margin: 0 0 16px; padding: 0; }
ul.requests > li { border-block-end: 1px solid #b1b4b6; padding-block: 12px; }
.request-title { font-weight: 600; margin: 0; }
.amount-line { font-size: 1.125rem; font-weight: 700; margin: 0; }
.status { display: inline-block; margin-block: 4px 8px; padding: 2px 8px; font-weight: 600; background: #f3f2f1; }
.status.done { background: #cce2d8; color: #005a30; }
.status.problem { background: #f6d7d2; color: #942514; }
.status.waiting { background: #fff7bf; color: #594d00; }
dl.summary { display: grid; grid-template-columns: minmax(8rem, max-content) 1fr; gap: 4px 16px; margin: 0 0 20px; }
dl.summary dt { font-weight: 600; }
dl.summary dd { margin: 0; }
.connection { color: #505a5f; font-size: .875rem; margin-block: 0 12px; }
.stripe-area { min-block-size: 4rem; margin-block: 0 20px; }
.receipt { border: 1px solid #b1b4b6; margin-block: 0 20px; overflow: auto; }
@media print {
  .panel > :not(.printable) { display: none !important; }
  .printable > :not(.receipt) { display: none !important; }
  .receipt { border: 0; }
}
`;

let sheet = null;

// One constructed stylesheet for every panel: no <style> or style attributes, so a
// strict Content-Security-Policy (style-src 'self') needs no 'unsafe-inline'.
function styles() {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLES);
  }
  return sheet;
}

const ATTRIBUTES = {
  "api-base": "apiBase", "ws-url": "wsUrl", "call-id": "callId", token: "token", locale: "locale",
  "clinic-id": "clinicId", currency: "currency", email: "email", "stripe-js-url": "stripeJsUrl",
  "patient-ref": "patientRef", "payment-request-id": "paymentRequestId",
};

// What both panels share: configuration, catalog, feed, screens, live announcements.
class PanelElement extends HTMLElement {
  static get observedAttributes() { return Object.keys(ATTRIBUTES); }

  constructor() {
    super();
    this.root = this.attachShadow({ mode: "open" });
    this.root.adoptedStyleSheets = [styles()];
    this._options = {};
    this.book = new RequestBook();
    this.text = new Catalog();
    this.connection = "connecting";
    this.ids = 0;
  }

  // One options object, e.g. panel.options = {apiBase, wsUrl, callId, token, locale}.
  set options(value) {
    this._options = { ...(value || {}) };
    this.restart();
  }

  get options() { return this.config(); }

  config() {
    const fromAttributes = {};
    for (const [attribute, key] of Object.entries(ATTRIBUTES)) {
      if (this.hasAttribute(attribute)) fromAttributes[key] = this.getAttribute(attribute);
    }
    return { stripeJsUrl: DEFAULT_STRIPE_JS_URL, ...fromAttributes, ...this._options };
  }

  attributeChangedCallback() { this.restart(); }

  connectedCallback() { this.restart(); }

  disconnectedCallback() {
    if (this.feed) this.feed.stop();
    this.feed = null;
  }

  // Start (again) once the current task has set every attribute.
  restart() {
    if (this.restartQueued) return;
    this.restartQueued = true;
    queueMicrotask(async () => {
      this.restartQueued = false;
      if (!this.isConnected) return;
      const config = this.config();
      this.api = new CallpayApi(config.apiBase, config.token);
      this.text = await loadCatalog(config.locale);
      if (this.feed) this.feed.stop();
      this.feed = null;
      this.book = new RequestBook();
      this.synced = false;
      this.expired = false;
      this.started(config);
      if (!config.wsUrl || !config.callId || !config.token) {
        this.show(this.problemScreen(this.text._("This payment panel is not set up: it needs a call, a token and the service's addresses.")));
        return;
      }
      this.feed = new CallFeed({
        wsUrl: config.wsUrl, callId: config.callId, token: config.token,
        clinicId: this.feedClinicId(config),
        onMessage: (message) => this.received(message),
        onState: (state) => this.connectionChanged(state),
        onRefused: () => this.checkAccess(),
      });
      this.feed.start();
    });
  }

  started() {}

  feedClinicId() { return null; }

  _(msgid, values) { return this.text._(msgid, values); }

  id(name) {
    this.ids += 1;
    return `${name}-${this.ids}`;
  }

  amount(request) { return formatAmount(request.amount, request.currency, this.text.lang); }

  when(iso) {
    return new Intl.DateTimeFormat(this.text.lang, { dateStyle: "medium", timeStyle: "short" })
      .format(new Date(iso));
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(`callpay:${name}`, { detail, bubbles: true, composed: true }));
  }

  // Replace the whole panel with one screen and move focus to its heading (or `focus`),
  // unless nobody acted (the first screen must not take focus from the host page).
  show(screen, focus = null, moveFocus = true) {
    this.ensureFrame();
    this.screenArea.replaceChildren(screen);
    if (!moveFocus) return;
    const target = focus || screen.querySelector("[data-focus]") || screen.querySelector("h2");
    if (target) {
      if (!target.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT)$/.test(target.tagName)) {
        target.setAttribute("tabindex", "-1");
      }
      target.focus();
    }
  }

  ensureFrame() {
    if (this.frame && this.frame.lang === this.text.lang) return;
    this.live = h("div", { class: "visually-hidden", role: "status", "aria-live": "polite" });
    this.connectionLine = h("p", { class: "connection" });
    this.banner = h("div");
    this.screenArea = h("div", { class: "screens" });
    this.frame = h("div", { class: "panel", lang: this.text.lang, dir: this.text.dir },
      this.banner, this.connectionLine, this.screenArea, this.live);
    this.root.replaceChildren(this.frame);
    this.showConnection();
  }

  // Said by screen readers without moving focus (the clinician may be talking).
  announce(message) {
    this.ensureFrame();
    this.live.textContent = "";
    // A fresh text node after a tick is announced even if it repeats the last message.
    setTimeout(() => { this.live.textContent = message; }, 50);
  }

  connectionChanged(state) {
    this.connection = state;
    this.showConnection();
  }

  showConnection() {
    if (!this.connectionLine) return;
    const words = {
      connecting: this._("Connecting…"),
      live: this._("Updates live"),
      reconnecting: this._("Connection lost. Reconnecting…"),
    };
    this.connectionLine.textContent = words[this.connection] || "";
  }

  received(message) {
    if (message.type === "call.snapshot") {
      // The first snapshot is where things stand; later ones (after a reconnect) may
      // hold what happened while the socket was closed.
      const baseline = !this.synced;
      this.synced = true;
      const before = new Map(this.book.byId);
      this.book.replace(message.payment_requests || []);
      for (const request of this.book.all()) {
        const old = before.get(request.id);
        if (!baseline && (!old || old.status !== request.status)) this.changed(request, old);
      }
      this.refresh();
    } else if (message.type === "payment_request.updated" && message.payment_request) {
      const old = this.book.get(message.payment_request.id);
      if (this.book.put(message.payment_request)) {
        this.changed(message.payment_request, old);
        this.refresh();
      }
    }
  }

  // A request is new or its status moved: events out (and the clinician's pop-up).
  changed(request, old) {
    this.emit("updated", { paymentRequest: request });
    if (old && old.status === request.status) return;
    if (request.status === "succeeded" && !(old && old.status === "succeeded")) {
      this.emit("paid", { paymentRequest: request });
    } else if (request.status === "failed") {
      this.emit("failed", { paymentRequest: request });
    } else if (request.status === "canceled") {
      this.emit("canceled", { paymentRequest: request });
    }
  }

  refresh() {}

  // After a refused connection: is the token expired or refused? Then stop and say so.
  async checkAccess() {
    const config = this.config();
    try {
      await this.api.json("GET", `/calls/${encodeURIComponent(config.callId)}/payment-requests`);
      return false;
    } catch (error) {
      if (error.status === 401 || error.status === 403) {
        this.accessLost(error);
        return true;
      }
      return false;
    }
  }

  accessLost(error) {
    this.expired = true;
    if (this.feed) this.feed.stop();
    this.connection = "";
    this.showConnection();
    this.emit("expired", { code: error.code });
    this.show(this.expiredScreen(error));
  }

  expiredScreen(error) {
    const expired = error.code === "token_expired";
    return h("section", {},
      h("h2", {}, expired ? this._("This payment link has expired")
        : this._("This payment link does not work")),
      h("p", {}, expired
        ? (this.config().paymentRequestId ? this._("For your security, payment links stop working after a few days.")
          : this._("For your security, payment links work for a few hours only."))
        : this._("The link may be incomplete or meant for another call.")),
      h("p", {}, this._("Ask the clinic for a new link. You have not been charged by this page.")));
  }

  problemScreen(message) {
    return h("section", {}, h("h2", {}, this._("Payments are not available")), h("p", {}, message));
  }

  // GOV.UK's error summary: what is wrong, each linked to its field; focused.
  errorSummary(problems) {
    return h("div", { class: "error-summary", role: "alert", tabindex: "-1", "data-focus": true },
      h("h3", {}, this._("There is a problem")),
      h("ul", {}, problems.map(({ field, message }) => h("li", {}, field
        ? h("a", { href: `#${field}`, onclick: (event) => {
          event.preventDefault();
          this.root.getElementById(field)?.focus();
        } }, message)
        : message))));
  }

  // A labelled field with its hint and, when wrong, its error in words.
  field({ id, label, hint, error, input }) {
    const hintId = hint ? `${id}-hint` : null;
    const errorId = error ? `${id}-error` : null;
    input.id = id;
    const describedBy = [hintId, errorId].filter(Boolean).join(" ");
    if (describedBy) input.setAttribute("aria-describedby", describedBy);
    if (error) input.setAttribute("aria-invalid", "true");
    return h("div", { class: error ? "field error" : "field" },
      h("label", { for: id }, label),
      hint ? h("p", { class: "hint", id: hintId }, hint) : null,
      error ? h("p", { class: "error-message", id: errorId },
        h("span", { class: "visually-hidden" }, this._("Error:") + " "), error) : null,
      input);
  }

  // Why the last attempt failed, in words.
  failureWords(request) {
    const code = request.failure?.code;
    const reasons = {
      payment_intent_authentication_failure: this._("the bank could not confirm it was the card holder"),
      insufficient_funds: this._("not enough money in the account"),
      expired_card: this._("the card has expired"),
      incorrect_cvc: this._("the security code was wrong"),
      incorrect_number: this._("the card number was wrong"),
      processing_error: this._("an error while processing the card"),
      lost_card: this._("the card was reported lost"),
      stolen_card: this._("the card was reported stolen"),
      card_declined: this._("the card was declined"),
      generic_decline: this._("the card was declined"),
      do_not_honor: this._("the card was declined"),
      fraudulent: this._("the card was declined"),
      authentication_required: this._("the bank asked for the card holder to confirm"),
    };
    return reasons[code] || request.failure?.message || this._("the card was declined");
  }
}

// -- the clinician's panel -----------------------------------------------------------------

const CANCELABLE = new Set(["requested", "failed", "requires_action"]);

class ClinicianPanel extends PanelElement {
  started() {
    this.screen = "list";
    this.draft = { amount: "", description: "", hold: false };
    this.showList(null, false);
  }

  feedClinicId(config) { return config.clinicId; }

  // A clinician's token is their sign-in, not a link.
  expiredScreen() {
    return h("section", {}, h("h2", {}, this._("Your session has expired")),
      h("p", {}, this._("Sign in again to request payments.")));
  }

  statusWords(request) {
    const amountHeld = formatAmount(request.amount_captured || request.amount, request.currency, this.text.lang);
    switch (request.status) {
      case "requested":
        if (request.hold_attempt > 1) return [this._("Waiting for the patient to authorise the card again"), "waiting"];
        return [this._("Waiting for the patient to pay"), "waiting"];
      case "processing": return [this._("Payment processing"), "waiting"];
      case "requires_action": return [this._("The patient is confirming with their bank"), "waiting"];
      case "failed":
        if (request.failure?.code === "payment_intent_authentication_failure") {
          return [this._("Authentication failed — the patient can try again"), "problem"];
        }
        if (request.failure?.code === "authentication_required") {
          return [request.pay_link ? this._("The bank wants the patient to confirm this charge: they were emailed a link to pay")
            : this._("The bank wants the patient to confirm this charge: send them a payment link"), "problem"];
        }
        return [this._("Declined: {reason}. The patient can try another card.", { reason: this.failureWords(request) }), "problem"];
      case "authorized":
        if (request.expiry_warned_at) {
          return [this._("Card authorised: {amount} held. The hold ends {when}: charge the final amount or ask for a new hold.", { amount: amountHeld, when: this.when(request.hold_expires_at) }), "problem"];
        }
        return [this._("Card authorised: {amount} held", { amount: amountHeld }), "waiting"];
      case "succeeded":
        if (request.charge_reason === "no_show") return [this._("No-show fee paid: {amount}", { amount: amountHeld }), "done"];
        return [this._("Paid {amount}", { amount: amountHeld }), "done"];
      case "canceled":
        if (request.cancellation_reason === "expired") return [this._("The hold expired before it was charged"), "problem"];
        if (request.cancellation_reason === "released") return [this._("Hold released: nothing charged"), ""];
        return [this._("Canceled"), ""];
      case "partially_refunded": return [this._("Partly refunded"), "done"];
      case "refunded": return [this._("Refunded"), ""];
      case "disputed": return [this._("Disputed by the card holder"), "problem"];
      default: return [request.status, ""];
    }
  }

  refresh() {
    if (this.screen === "list") this.updateList();
  }

  changed(request, old) {
    super.changed(request, old);
    if (request.expiry_warned_at && old && !old.expiry_warned_at) {
      this.alert(this._("Hold ending"), this._("The hold for {description} ends {when}. Charge the final amount, or ask the patient for a new hold.", { description: request.description, when: this.when(request.hold_expires_at) }));
      return;
    }
    if (request.failure?.code === "authentication_required" && request.pay_link && !old?.pay_link) {
      this.alert(this._("The patient must confirm"), this._("The bank did not accept {amount} for {description} without the patient. We emailed them a link to pay.", { amount: this.amount(request), description: request.description }));
      return;
    }
    if (!old || old.status === request.status) return;
    if (request.status === "succeeded") this.paymentReceived(request);
    else this.announce(`${request.description}: ${this.statusWords(request)[0]}`);
  }

  // Something the clinician must act on: a banner that stays until dismissed, also said.
  alert(title, words) {
    this.ensureFrame();
    const titleId = this.id("alert");
    this.banner.replaceChildren(h("div", { class: "notification attention", role: "region", "aria-labelledby": titleId },
      h("p", { class: "title", id: titleId }, title),
      h("div", { class: "body" }, h("p", {}, words),
        h("button", { type: "button", class: "secondary", onclick: () => this.banner.replaceChildren() }, this._("Dismiss")))));
    this.announce(words);
  }

  // The "payment received" pop-up: a banner that stays until dismissed, and the same
  // words said by the live region (focus stays where the clinician is).
  paymentReceived(request) {
    this.ensureFrame();
    const words = this._("Payment received: {amount} for {description}.", { amount: formatAmount(request.amount_captured || request.amount, request.currency, this.text.lang), description: request.description });
    const titleId = this.id("received");
    this.banner.replaceChildren(h("div", { class: "notification", role: "region", "aria-labelledby": titleId },
      h("p", { class: "title", id: titleId }, this._("Payment received")),
      h("div", { class: "body" }, h("p", {}, words),
        h("button", { type: "button", class: "secondary", onclick: () => this.banner.replaceChildren() }, this._("Dismiss")))));
    this.announce(words);
  }

  showList(focusId = null, moveFocus = true) {
    this.screen = "list";
    this.listElement = h("ul", { class: "requests" });
    this.empty = h("p", {}, this._("No payment requests in this call yet."));
    const screen = h("section", {},
      h("h2", {}, this._("Payments in this call")),
      h("button", { type: "button", onclick: () => this.showForm() }, this._("Request payment")),
      this.config().patientRef ? h("button", { type: "button", class: "secondary", "data-action": "no-show",
        onclick: (event) => this.chargeNoShow(event.currentTarget) }, this._("Charge no-show fee")) : null,
      this.empty, this.listElement);
    this.rendered = new Map();
    this.updateList();
    const focus = focusId ? this.rendered.get(focusId)?.querySelector(".request-title") : null;
    this.show(screen, focus, moveFocus);
  }

  // Keyed updates: a request's row is rebuilt only when it changed, keeping focus.
  updateList() {
    if (!this.listElement) return;
    const requests = this.book.all();
    this.empty.hidden = requests.length > 0;
    const rows = requests.map((request) => {
      const key = `${request.status}|${request.updated_at}`;
      let row = this.rendered.get(request.id);
      if (!row || row.dataset.key !== key) {
        const focused = row && row.contains(this.root.activeElement) ? this.root.activeElement.dataset.action : null;
        const fresh = this.row(request);
        fresh.dataset.key = key;
        if (row) row.replaceWith(fresh);
        row = fresh;
        this.rendered.set(request.id, row);
        if (focused) (row.querySelector(`[data-action="${focused}"]`) || row.querySelector(".request-title"))?.focus();
      }
      return row;
    });
    this.listElement.replaceChildren(...rows);
  }

  row(request) {
    const [words, tone] = this.statusWords(request);
    const titleId = this.id("request");
    const actions = [];
    if (CANCELABLE.has(request.status)) {
      actions.push(h("button", { type: "button", class: "secondary", "data-action": "cancel",
        "aria-describedby": titleId, onclick: () => this.cancel(request) }, this._("Cancel request")));
    }
    if (request.status === "authorized") {
      actions.push(h("button", { type: "button", "data-action": "capture", "aria-describedby": titleId,
        onclick: () => this.showCapture(request) }, this._("Charge final amount")));
      if (request.no_show_fee) {
        actions.push(h("button", { type: "button", class: "secondary", "data-action": "no-show-capture",
          "aria-describedby": titleId, onclick: () => this.captureNoShow(request) },
        this._("Charge no-show fee ({amount})", { amount: formatAmount(Math.min(request.no_show_fee, request.amount), request.currency, this.text.lang) })));
      }
    }
    const lapsed = request.status === "canceled" && request.cancellation_reason === "expired";
    if (request.capture_method === "manual" && (request.status === "authorized" || lapsed)) {
      actions.push(h("button", { type: "button", class: "secondary", "data-action": "reauthorize",
        "aria-describedby": titleId, onclick: () => this.reauthorize(request) }, this._("Ask for a new hold")));
    }
    if (PAYABLE.has(request.status)) {
      actions.push(h("button", { type: "button", class: "secondary", "data-action": "pay-link",
        "aria-describedby": titleId, onclick: () => this.showPayLink(request) }, this._("Send payment link")));
    }
    return h("li", {},
      h("p", { class: "request-title", id: titleId, tabindex: "-1" }, request.description),
      h("p", { class: "amount-line" }, this.amount(request)),
      h("p", { class: `status ${tone}` }, words),
      request.capture_method === "manual" && request.status === "requested"
        ? h("p", { class: "hint" }, this._("A hold: the card is authorised now and charged later.")) : null,
      request.status === "authorized" && request.hold_expires_at && !request.expiry_warned_at
        ? h("p", { class: "hint" }, this._("The hold lasts until {when}.", { when: this.when(request.hold_expires_at) })) : null,
      request.pay_link && PAYABLE.has(request.status)
        ? h("p", { class: "hint" }, this._("Payment link emailed {sent}; it works until {until}.", { sent: this.when(request.pay_link.sent_at), until: this.when(request.pay_link.expires_at) })) : null,
      request.off_session ? h("p", { class: "hint" }, this._("Charged to the card the patient kept with the clinic.")) : null,
      actions);
  }

  // The clinic's no-show fee from the hold (the fee the patient was shown, at most the hold).
  async captureNoShow(request) {
    try {
      const updated = await this.api.json("POST", `/payment-requests/${encodeURIComponent(request.id)}/capture`, { reason: "no_show" });
      if (this.book.put(updated)) this.changed(updated, request);
      this.updateList();
    } catch (error) {
      this.apiTrouble(error);
    }
  }

  async reauthorize(request) {
    try {
      const updated = await this.api.json("POST", `/payment-requests/${encodeURIComponent(request.id)}/reauthorize`);
      if (this.book.put(updated)) this.changed(updated, request);
      this.updateList();
      this.announce(this._("New hold asked for: the patient authorises the card again. Send them a payment link if they have left."));
    } catch (error) {
      this.apiTrouble(error);
    }
  }

  // The no-show fee on the card the patient (named by patient-ref) kept with the clinic.
  async chargeNoShow(button) {
    const config = this.config();
    button.disabled = true;
    this.noShowKey = this.noShowKey || idempotencyKey();
    try {
      const charged = await this.api.json("POST", `/calls/${encodeURIComponent(config.callId)}/no-show-fees`,
        { clinic_id: config.clinicId, patient_ref: config.patientRef }, { "Idempotency-Key": this.noShowKey });
      this.noShowKey = null;
      const old = this.book.get(charged.id);
      if (this.book.put(charged)) this.changed(charged, old);
      this.showList(charged.id);
    } catch (error) {
      if (error.status && error.status < 500) this.noShowKey = null;
      button.disabled = false;
      this.apiTrouble(error);
    }
  }

  showPayLink(request, error = null, typed = "") {
    this.screen = "pay-link";
    const email = h("input", { type: "email", autocomplete: "off", spellcheck: "false", value: typed });
    const form = h("form", { novalidate: true, onsubmit: (event) => {
      event.preventDefault();
      this.sendPayLink(request, email.value.trim());
    } },
    error ? this.errorSummary([{ field: "link-email", message: error }]) : null,
    h("h2", {}, this._("Send a payment link")),
    h("p", {}, this._("The patient gets an email with a link to pay {amount} for {description} on the payment page.", { amount: this.amount(request), description: request.description })),
    this.field({ id: "link-email", label: this._("Patient's email address"),
      hint: this._("Leave it empty to use the address the patient gave when paying."), error, input: email }),
    h("button", { type: "submit" }, this._("Send link")),
    h("button", { type: "button", class: "secondary", onclick: () => this.showList(request.id) }, this._("Back")));
    this.show(form, error ? form.querySelector(".error-summary") : null);
  }

  async sendPayLink(request, email) {
    try {
      const updated = await this.api.json("POST", `/payment-requests/${encodeURIComponent(request.id)}/pay-link`,
        email ? { email } : {});
      if (this.book.put(updated)) this.changed(updated, request);
      this.showList(request.id);
      this.announce(this._("Payment link sent."));
    } catch (error) {
      if (error.status === 401) this.apiTrouble(error);
      else this.showPayLink(request, this.apiErrorWords(error), email);
    }
  }

  async cancel(request) {
    try {
      const updated = await this.api.json("POST", `/payment-requests/${encodeURIComponent(request.id)}/cancel`);
      if (this.book.put(updated)) this.changed(updated, request);
      this.updateList();
    } catch (error) {
      this.apiTrouble(error);
    }
  }

  apiTrouble(error) {
    if (error.status === 401) {
      this.accessLost(error);
      return;
    }
    const words = this.apiErrorWords(error);
    this.announce(words);
    this.banner.replaceChildren(this.errorSummary([{ message: words }]));
    this.banner.firstChild.focus();
  }

  apiErrorWords(error) {
    const words = {
      network_error: this._("The payment service could not be reached. Check the connection and try again."),
      not_cancelable: this._("This request can no longer be canceled."),
      not_a_hold: this._("This payment has no hold to charge."),
      capture_too_large: this._("The final amount cannot be more than the amount held."),
      capture_with_line_items: this._("A hold billed by line items is charged in full."),
      amount_too_small: this._("The amount is below the smallest payment the card network accepts."),
      amount_too_large: this._("The amount is above this clinic's largest payment."),
      currency_not_accepted: this._("This clinic does not take payments in this currency."),
      payments_not_enabled: this._("Payments are not turned on for this clinic."),
      stripe_account_not_linked: this._("The clinic has not linked its Stripe account."),
      stripe_account_not_ready: this._("The clinic's Stripe account cannot take payments yet."),
      call_of_another_clinic: this._("This call belongs to another clinic."),
      not_your_clinic: this._("You are not a member of this clinic."),
      stripe_unavailable: this._("Stripe is busy. Try again in a moment."),
      email_required: this._("Enter the patient's email address: they have not given one yet."),
      invalid_request: this._("Check what you entered and try again."),
      not_payable: this._("This request can no longer be paid."),
      not_reauthorizable: this._("Only a hold that is held, or that ended, can be asked for again."),
      no_show_policy_not_shown: this._("The patient was not shown a no-show policy for this hold."),
      no_saved_card: this._("This patient has not kept a card with the clinic."),
      no_show_fee_not_set: this._("This clinic has no no-show fee."),
    };
    return words[error.code] || this._("Something went wrong ({code}). Try again.", { code: error.code });
  }

  amountProblem(problem, currency) {
    const exponent = exponentOf(currency);
    const example = formatAmount(exponent ? 8050 * 10 ** (exponent - 2) : 80, currency, this.text.lang);
    return {
      empty: this._("Enter an amount"),
      format: this._("Enter the amount in numbers, like {example}", { example }),
      decimals: exponent === 0 ? this._("Enter a whole amount: {currency} has no decimals", { currency: currency.toUpperCase() })
        : this._("Enter the amount with no more than {count} decimals", { count: exponent }),
      zero: this._("Enter an amount greater than 0"),
    }[problem];
  }

  showForm(errors = {}, summary = []) {
    this.screen = "form";
    const config = this.config();
    const currency = String(config.currency || "").toLowerCase();
    if (!/^[a-z]{3}$/.test(currency)) {
      this.show(this.problemScreen(this._("This panel needs the clinic's currency (the currency attribute).")));
      return;
    }
    const amount = h("input", { type: "text", inputmode: "decimal", class: "amount", autocomplete: "off",
      spellcheck: "false", value: this.draft.amount });
    const description = h("input", { type: "text", maxlength: "500", value: this.draft.description });
    const hold = h("input", { type: "checkbox", id: "hold" });
    hold.checked = this.draft.hold;
    const problems = [
      errors.amount ? { field: "amount", message: errors.amount } : null,
      errors.description ? { field: "description", message: errors.description } : null,
      ...summary,
    ].filter(Boolean);
    const form = h("form", { novalidate: true, onsubmit: (event) => {
      event.preventDefault();
      this.draft = { amount: amount.value, description: description.value, hold: hold.checked };
      this.send(currency);
    } },
    problems.length ? this.errorSummary(problems) : null,
    h("h2", {}, this._("Request payment")),
    this.field({ id: "amount", label: this._("Amount in {currency}", { currency: currency.toUpperCase() }),
      hint: this._("The amount the patient pays, for example {example}", { example: formatAmount(exponentOf(currency) ? 8000 * 10 ** (exponentOf(currency) - 2) : 8000, currency, this.text.lang) }),
      error: errors.amount, input: amount }),
    this.field({ id: "description", label: this._("What the payment is for"),
      hint: this._("The patient sees this and it is printed on the receipt."), error: errors.description, input: description }),
    h("div", { class: "field" }, h("div", { class: "checkbox" }, hold,
      h("label", { for: "hold" }, this._("Place a hold: authorise the card now, charge the final amount later")))),
    h("button", { type: "submit" }, this._("Send request")),
    h("button", { type: "button", class: "secondary", onclick: () => this.showList() }, this._("Cancel")));
    this.show(form, problems.length ? form.querySelector(".error-summary") : form.querySelector("h2"));
  }

  async send(currency) {
    const errors = {};
    const parsed = toMinorUnits(this.draft.amount, currency);
    if (parsed.problem) errors.amount = this.amountProblem(parsed.problem, currency);
    const description = this.draft.description.trim();
    if (!description) errors.description = this._("Enter what the payment is for");
    if (Object.keys(errors).length) {
      this.showForm(errors);
      return;
    }
    const config = this.config();
    const body = { clinic_id: config.clinicId, amount: parsed.amount, currency, description,
      capture_method: this.draft.hold ? "manual" : "automatic" };
    this.sendKey = this.sendKey || idempotencyKey();
    try {
      const created = await this.api.json("POST", `/calls/${encodeURIComponent(config.callId)}/payment-requests`,
        body, { "Idempotency-Key": this.sendKey });
      this.sendKey = null;
      this.draft = { amount: "", description: "", hold: false };
      const old = this.book.get(created.id);
      if (this.book.put(created)) this.changed(created, old);
      this.emit("requested", { paymentRequest: created });
      this.showList(created.id);
      this.announce(this._("Payment request sent: {amount} for {description}.", { amount: this.amount(created), description: created.description }));
    } catch (error) {
      if (error.status && error.status < 500 && error.code !== "stripe_unavailable") this.sendKey = null;
      if (error.status === 401) {
        this.apiTrouble(error);
        return;
      }
      const onAmount = ["amount_too_small", "amount_too_large", "invalid_request"].includes(error.code);
      const words = this.apiErrorWords(error);
      this.showForm(onAmount ? { amount: words } : {}, onAmount ? [] : [{ message: words }]);
    }
  }

  showCapture(request, error = null, typed = null) {
    this.screen = "capture";
    const exponent = exponentOf(request.currency);
    const held = (request.amount_captured || request.amount) / 10 ** exponent;
    const amount = h("input", { type: "text", inputmode: "decimal", class: "amount", autocomplete: "off",
      value: typed ?? held.toFixed(exponent) });
    const form = h("form", { novalidate: true, onsubmit: (event) => {
      event.preventDefault();
      this.capture(request, amount.value);
    } },
    error ? this.errorSummary([{ field: "final-amount", message: error }]) : null,
    h("h2", {}, this._("Charge the final amount")),
    h("p", {}, this._("{amount} is held on the patient's card for {description}.", { amount: this.amount(request), description: request.description })),
    this.field({ id: "final-amount", label: this._("Final amount in {currency}", { currency: request.currency.toUpperCase() }),
      hint: this._("Enter 0 to release the hold without charging."), error, input: amount }),
    h("button", { type: "submit" }, this._("Charge")),
    h("button", { type: "button", class: "secondary", onclick: () => this.showList(request.id) }, this._("Back")));
    this.show(form, error ? form.querySelector(".error-summary") : null);
  }

  async capture(request, typed) {
    const zero = /^\s*[0٠۰]+([.,٫][0٠۰]*)?\s*$/.test(typed);
    const parsed = zero ? { amount: 0 } : toMinorUnits(typed, request.currency);
    if (parsed.problem) {
      this.showCapture(request, this.amountProblem(parsed.problem, request.currency), typed);
      return;
    }
    try {
      const updated = await this.api.json("POST", `/payment-requests/${encodeURIComponent(request.id)}/capture`, { amount: parsed.amount });
      if (this.book.put(updated)) this.changed(updated, request);
      this.showList(request.id);
    } catch (error) {
      if (error.status === 401) this.apiTrouble(error);
      else this.showCapture(request, this.apiErrorWords(error), typed);
    }
  }
}

// -- the patient's panel -------------------------------------------------------------------

const PAYABLE = new Set(["requested", "failed", "requires_action"]);
const PAID = new Set(["succeeded", "partially_refunded", "refunded", "disputed"]);

class PatientPanel extends PanelElement {
  started(config) {
    this.email = this.email || config.email || "";
    this.unmountStripe(); // {request, checkout, stripe, elements, element} while paying
    this.screen = "list";
    this.showRequests(false, false);
  }

  statusWords(request) {
    switch (request.status) {
      case "requested":
        if (request.hold_attempt > 1) return [this._("The clinic asks you to authorise your card again"), "waiting"];
        return [this._("To pay"), "waiting"];
      case "processing": return [this._("Payment processing"), "waiting"];
      case "requires_action": return [this._("Waiting for your bank to confirm"), "waiting"];
      case "failed":
        if (request.failure?.code === "payment_intent_authentication_failure") {
          return [this._("Your bank did not confirm the payment. You can try again."), "problem"];
        }
        return [this._("Not paid: {reason}. You can try another card.", { reason: this.failureWords(request) }), "problem"];
      case "authorized": return [this._("Authorised: the clinic will charge the final amount"), "done"];
      case "succeeded": return [this._("Paid"), "done"];
      case "canceled":
        if (request.cancellation_reason === "expired") return [this._("The hold on your card has ended"), ""];
        return [this._("Canceled by the clinic"), ""];
      case "partially_refunded": return [this._("Paid, partly refunded"), "done"];
      case "refunded": return [this._("Refunded"), ""];
      case "disputed": return [this._("Paid, disputed"), ""];
      default: return [request.status, ""];
    }
  }

  refresh() {
    if (this.screen === "list") this.showRequests(false);
    if (this.screen === "waiting" || this.screen === "card") this.checkPayment();
  }

  changed(request, old) {
    super.changed(request, old);
    if (!old && this.screen === "list") this.announce(this._("New payment request: {amount} for {description}.", { amount: this.amount(request), description: request.description }));
  }

  // A user's move shows the list afresh (focus on its heading); a live update redraws it
  // in place; the first screen takes no focus.
  showRequests(moveFocus = true, live = !moveFocus) {
    this.screen = "list";
    const requests = this.book.all();
    const screen = h("section", {},
      h("h2", {}, this._("Payments for this call")),
      requests.length ? h("ul", { class: "requests" }, requests.map((request) => this.row(request)))
        : h("p", {}, this._("Nothing to pay yet. Requests from the clinic appear here.")));
    if (!live || !this.screenArea) {
      this.show(screen, null, moveFocus);
      return;
    }
    // A live update: keep focus on the same button if it is still there.
    const action = this.root.activeElement?.dataset?.target;
    this.screenArea.replaceChildren(screen);
    if (action) screen.querySelector(`[data-target="${action}"]`)?.focus();
  }

  row(request) {
    const [words, tone] = this.statusWords(request);
    const titleId = this.id("request");
    return h("li", {},
      h("p", { class: "request-title", id: titleId }, request.description),
      h("p", { class: "amount-line" }, this.amount(request)),
      h("p", { class: `status ${tone}` }, words),
      this.heldUntil(request),
      PAYABLE.has(request.status)
        ? h("button", { type: "button", "data-target": `pay-${request.id}`, "aria-describedby": titleId,
          onclick: () => this.showEmail(request) }, this._("Pay now")) : null,
      PAID.has(request.status)
        ? h("button", { type: "button", class: "secondary", "data-target": `receipt-${request.id}`,
          "aria-describedby": titleId, onclick: () => this.showReceipt(request) }, this._("View receipt")) : null);
  }

  // A hold's deadline (Stripe's capture_before), in the patient's language and time.
  heldUntil(request) {
    if (request.status !== "authorized" || !request.hold_expires_at) return null;
    return h("p", { class: "hint" }, this._("Held on your card until {when}", { when: this.when(request.hold_expires_at) }));
  }

  showEmail(request, error = null) {
    this.screen = "email";
    const input = h("input", { type: "email", autocomplete: "email", spellcheck: "false", value: this.email });
    const form = h("form", { novalidate: true, onsubmit: (event) => {
      event.preventDefault();
      this.email = input.value.trim();
      this.startCheckout(request);
    } },
    error ? this.errorSummary([{ field: "email", message: error }]) : null,
    h("h2", {}, this._("What is your email address?")),
    h("p", {}, this._("{amount} for {description}", { amount: this.amount(request), description: request.description })),
    this.field({ id: "email", label: this._("Email address"), hint: this._("We will send your receipt to this address."), error, input }),
    h("button", { type: "submit" }, this._("Continue")),
    h("button", { type: "button", class: "secondary", onclick: () => this.showRequests() }, this._("Back")));
    this.show(form, error ? form.querySelector(".error-summary") : null);
  }

  async startCheckout(request) {
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(this.email)) {
      this.showEmail(request, this.email ? this._("Enter an email address in the correct format, like name@example.com")
        : this._("Enter your email address"));
      return;
    }
    let checkout;
    try {
      checkout = await this.api.json("POST", `/payment-requests/${encodeURIComponent(request.id)}/checkout`,
        { email: this.email, locale: this.text.lang });
    } catch (error) {
      this.checkoutTrouble(request, error);
      return;
    }
    try {
      const Stripe = await loadStripe(this.config().stripeJsUrl);
      const stripe = Stripe(checkout.publishable_key, { stripeAccount: checkout.stripe_account, locale: this.text.lang });
      const elements = stripe.elements({ clientSecret: checkout.client_secret, locale: this.text.lang,
        appearance: { theme: "stripe", variables: { colorDanger: "#d4351c", borderRadius: "0px" } } });
      // saveCard: what the patient ticked; cardKept: what the server has recorded.
      this.paying = { request, checkout, stripe, elements, saveCard: checkout.save_card, cardKept: checkout.save_card };
      this.showCard();
    } catch (error) {
      console.warn("callpay: Stripe.js", error);
      this.show(this.problemScreen(this._("The secure card form could not be loaded. Check the connection and try again.")));
    }
  }

  checkoutTrouble(request, error) {
    if (error.status === 401 || error.status === 403) {
      this.accessLost(error);
    } else if (error.status === 422) {
      this.showEmail(request, this._("Enter an email address in the correct format, like name@example.com"));
    } else if (error.status === 409) {
      const words = {
        already_paid: this._("This payment has already been made."),
        payment_in_progress: this._("This payment is already being processed."),
        payment_canceled: this._("The clinic canceled this payment request."),
      }[error.code] || this._("This payment can no longer be made.");
      this.showRequests();
      this.announce(words);
    } else {
      this.show(this.problemScreen(this._("The payment could not be started. Check the connection and try again.")));
    }
  }

  // Stripe's Payment Element lives in the light DOM (Stripe.js cannot reach into a
  // shadow root) and is shown here through a slot.
  stripeMount() {
    let mount = this.querySelector(":scope > [slot=stripe-payment]");
    if (!mount) {
      mount = document.createElement("div");
      mount.setAttribute("slot", "stripe-payment");
      this.append(mount);
    }
    return mount;
  }

  showCard(error = null) {
    this.screen = "card";
    const { request, checkout } = this.paying;
    const current = this.book.get(request.id) || request;
    const payButton = h("button", { type: "submit" }, this._("Pay {amount}", { amount: this.amount(current) }));
    const loading = h("p", { class: "hint" }, this._("Loading the secure card form…"));
    const form = h("form", { novalidate: true, onsubmit: (event) => {
      event.preventDefault();
      this.confirm(payButton);
    } },
    error ? this.errorSummary([{ message: error }]) : null,
    h("h2", {}, this._("Pay {amount}", { amount: this.amount(current) })),
    h("dl", { class: "summary" },
      h("dt", {}, this._("For")), h("dd", {}, current.description),
      checkout.clinic_name ? [h("dt", {}, this._("Paid to")), h("dd", {}, checkout.clinic_name)] : null,
      h("dt", {}, this._("Receipt to")), h("dd", {}, this.email)),
    this.policy(checkout),
    h("h3", {}, this._("Card details")),
    h("p", { class: "hint" }, this._("Your card details go straight to Stripe, our payment provider. The clinic never sees them.")),
    loading,
    h("div", { class: "stripe-area" }, h("slot", { name: "stripe-payment" })),
    this.keepCard(checkout),
    payButton,
    h("button", { type: "button", class: "secondary", onclick: () => this.leaveCard() }, this._("Back")));
    if (!this.paying.element) {
      // Mounted once per checkout; a decline keeps it, so the patient just changes the card.
      const mount = this.stripeMount();
      this.paying.element = this.paying.elements.create("payment");
      this.paying.element.on("ready", () => { this.paying && (this.paying.ready = true); loading.hidden = true; });
      this.paying.element.mount(mount);
    } else if (this.paying.ready) {
      loading.hidden = true;
    }
    this.show(form, error ? form.querySelector(".error-summary") : null);
  }

  // The clinic's no-show policy, in its own words, before the patient pays or keeps the card.
  policy(checkout) {
    const policy = checkout.no_show_policy;
    if (!policy) return null;
    const headingId = this.id("policy");
    return h("section", { class: "policy", "aria-labelledby": headingId },
      h("h3", { id: headingId }, this._("No-show policy")),
      h("p", { class: "policy-text", id: "policy-text" }, policy.text),
      h("p", {}, this._("Fee if you miss the appointment: {amount}", { amount: formatAmount(policy.fee, policy.currency, this.text.lang) })));
  }

  // Consent to keep the card, unticked until the patient ticks it; the policy is above it.
  keepCard(checkout) {
    if (!checkout.can_save_card) return null;
    // The policy above (its words) describes what the patient agrees to.
    const box = h("input", { type: "checkbox", id: "save-card", "aria-describedby": "policy-text" });
    box.checked = Boolean(this.paying.saveCard);
    box.addEventListener("change", () => { this.paying.saveCard = box.checked; });
    return h("div", { class: "field" }, h("div", { class: "checkbox" }, box,
      h("label", { for: "save-card" }, this._("Keep this card with the clinic for its future charges under this policy"))));
  }

  // The patient's answer on keeping the card, told to the server before Stripe takes the
  // card (the PaymentIntent must say so when it is confirmed); true if paying may go on.
  async agreeOnCard() {
    const paying = this.paying;
    if (Boolean(paying.saveCard) === Boolean(paying.cardKept)) return true;
    const policy = paying.checkout.no_show_policy;
    try {
      const answer = await this.api.json("POST", `/payment-requests/${encodeURIComponent(paying.request.id)}/checkout`,
        { email: this.email, locale: this.text.lang, save_card: Boolean(paying.saveCard),
          ...(paying.saveCard && policy ? { policy_version: policy.version } : {}) });
      paying.checkout = { ...paying.checkout, ...answer };
      paying.cardKept = answer.save_card;
      // Stripe's own Payment Element re-reads the intent (setup_future_usage) before confirming.
      if (paying.elements.fetchUpdates) await paying.elements.fetchUpdates();
      return true;
    } catch (error) {
      if (error.status === 401 || error.status === 403) {
        this.accessLost(error);
        return false;
      }
      if (error.code === "policy_changed") {
        // Show the policy as it is now; the box is unticked again.
        const fresh = await this.api.json("POST", `/payment-requests/${encodeURIComponent(paying.request.id)}/checkout`,
          { email: this.email, locale: this.text.lang }).catch(() => null);
        if (fresh) paying.checkout = { ...paying.checkout, ...fresh };
        paying.saveCard = false;
        this.showCard(this._("The clinic's policy has changed. Read it again before you agree."));
        return false;
      }
      this.showCard(this._("The payment could not be started. Check the connection and try again."));
      return false;
    }
  }

  leaveCard() {
    this.unmountStripe();
    this.showRequests();
  }

  unmountStripe() {
    if (this.paying?.element) {
      try { this.paying.element.destroy(); } catch { /* already gone */ }
    }
    this.querySelector(":scope > [slot=stripe-payment]")?.remove();
    this.paying = null;
  }

  async confirm(payButton) {
    const { stripe, elements, request } = this.paying;
    payButton.disabled = true;
    payButton.textContent = this._("Paying…");
    this.announce(this._("Paying…"));
    if (!(await this.agreeOnCard())) return;
    let result;
    try {
      result = await stripe.confirmPayment({
        elements,
        // Cards never redirect with "if_required"; for methods that do, the return page
        // must not carry the token, so it is the page without its fragment.
        confirmParams: { return_url: `${location.origin}${location.pathname}` },
        redirect: "if_required",
      });
    } catch (error) {
      result = { error: { message: this._("The payment could not be sent. Check the connection and try again.") } };
    }
    if (!this.paying || this.paying.request.id !== request.id) return;
    if (result.error) {
      const message = result.error.code === "payment_intent_authentication_failure"
        ? this._("Your bank did not confirm the payment. Try again, or use another card.")
        : result.error.message || this._("The card was declined. Try another card.");
      this.showCard(message);
      this.announce(message);
      return;
    }
    // Stripe.js says it went through; only the feed says it is done.
    this.provisional = result.paymentIntent?.status;
    this.showWaiting();
  }

  showWaiting() {
    this.screen = "waiting";
    const { request } = this.paying;
    this.show(h("section", {}, h("h2", {}, this._("Confirming your payment…")),
      h("p", {}, this._("{amount} for {description}", { amount: this.amount(request), description: request.description })),
      h("p", {}, this._("Please keep this page open. This usually takes a few seconds."))));
    this.checkPayment();
  }

  // What the feed says about the payment under way.
  checkPayment() {
    if (!this.paying) return;
    const current = this.book.get(this.paying.request.id);
    if (!current) return;
    if (PAID.has(current.status) || current.status === "authorized") {
      const { checkout, cardKept } = this.paying;
      this.unmountStripe();
      this.showConfirmation(current, checkout.clinic_name, cardKept);
    } else if (current.status === "canceled") {
      this.unmountStripe();
      this.showRequests();
      this.announce(this._("The clinic canceled this payment request."));
    } else if (this.screen === "waiting" && current.status === "failed") {
      this.showCard(this._("Not paid: {reason}. You can try another card.", { reason: this.failureWords(current) }));
    }
  }

  showConfirmation(request, clinicName, cardKept = false) {
    this.screen = "confirmation";
    const held = request.status === "authorized";
    const summary = h("dl", { class: "summary" },
      h("dt", {}, held ? this._("Amount held") : this._("Amount paid")),
      h("dd", {}, formatAmount(request.amount_captured || request.amount, request.currency, this.text.lang)),
      h("dt", {}, this._("For")), h("dd", {}, request.description),
      clinicName ? [h("dt", {}, this._("Paid to")), h("dd", {}, clinicName)] : null,
      request.receipt_number ? [h("dt", {}, this._("Receipt number")), h("dd", {}, request.receipt_number)] : null,
      request.paid_at ? [h("dt", {}, this._("Date and time")), h("dd", {}, this.when(request.paid_at))] : null);
    this.show(h("section", {},
      h("div", { class: "confirmation" },
        h("h2", {}, held ? this._("Card authorised") : this._("Payment complete")),
        request.receipt_number ? h("p", {}, this._("Your receipt number is {number}", { number: request.receipt_number })) : null),
      summary,
      this.heldUntil(request),
      held ? h("p", {}, this._("The amount is held on your card. The clinic charges the final amount after the consultation."))
        : h("p", {}, this._("We have emailed a receipt to {email}.", { email: this.email })),
      cardKept ? h("p", {}, this._("Your card is kept with the clinic for its future charges.")) : null,
      held ? null : h("button", { type: "button", onclick: () => this.showReceipt(request) }, this._("View receipt")),
      h("button", { type: "button", class: "secondary", onclick: () => this.showRequests() }, this._("Back to payments"))));
    this.announce(held ? this._("Card authorised") : this._("Payment complete"));
  }

  // The receipt is fetched with the token (a plain link could not send it), shown here,
  // and offered as an HTML file and for printing.
  async showReceipt(request) {
    this.screen = "receipt";
    let html;
    try {
      const answer = await this.api.request("GET",
        `/payment-requests/${encodeURIComponent(request.id)}/receipt?locale=${encodeURIComponent(this.text.lang)}`);
      html = await answer.text();
    } catch (error) {
      if (error.status === 401 || error.status === 403) this.accessLost(error);
      else this.show(this.problemScreen(this._("The receipt could not be loaded. Try again in a moment.")));
      return;
    }
    const name = `receipt-${request.receipt_number || request.id}.html`;
    const download = h("a", { href: URL.createObjectURL(new Blob([html], { type: "text/html" })), download: name,
      class: "download" }, this._("Download receipt (HTML file)"));
    this.show(h("section", { class: "printable" },
      h("h2", {}, this._("Your receipt")),
      h("p", {}, download),
      h("button", { type: "button", class: "secondary", onclick: () => window.print() }, this._("Print receipt")),
      h("button", { type: "button", class: "secondary", onclick: () => { URL.revokeObjectURL(download.href); this.showRequests(); } }, this._("Back to payments")),
      h("div", { class: "receipt", role: "region", "aria-label": this._("Receipt") }, receiptContent(html))));
  }
}

// The receipt page's content, made safe to place in the panel: no scripts or embedded
// content, and its inline styles applied through the CSSOM (which a strict CSP allows,
// unlike style attributes).
function receiptContent(html) {
  const parsed = new DOMParser().parseFromString(html, "text/html");
  const container = document.createElement("div");
  for (const unsafe of parsed.body.querySelectorAll("script, style, link, iframe, object, embed, form, base, meta")) {
    unsafe.remove();
  }
  const styled = [];
  for (const element of parsed.body.querySelectorAll("*")) {
    for (const attribute of [...element.attributes]) {
      if (/^on/i.test(attribute.name) || (attribute.name === "href" && /^\s*javascript:/i.test(attribute.value))) {
        element.removeAttribute(attribute.name);
      }
    }
    if (element.hasAttribute("style")) {
      styled.push([element, element.getAttribute("style")]);
      element.removeAttribute("style");
    }
  }
  const imported = document.importNode(parsed.body, true);
  // Matching walk: the same elements in the same order as in the parsed body.
  const originals = [...parsed.body.querySelectorAll("*")];
  const copies = [...imported.querySelectorAll("*")];
  const byOriginal = new Map(originals.map((element, index) => [element, copies[index]]));
  for (const [element, css] of styled) {
    const copy = byOriginal.get(element);
    if (copy) copy.style.cssText = css;
  }
  container.setAttribute("lang", parsed.documentElement.getAttribute("lang") || "");
  container.setAttribute("dir", parsed.documentElement.getAttribute("dir") || "auto");
  container.append(...imported.childNodes);
  return container;
}

if (!customElements.get("callpay-clinician-panel")) customElements.define("callpay-clinician-panel", ClinicianPanel);
if (!customElements.get("callpay-patient-panel")) customElements.define("callpay-patient-panel", PatientPanel);

export { ClinicianPanel, PatientPanel };
