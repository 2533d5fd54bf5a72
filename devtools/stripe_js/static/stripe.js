/*
 * callpay's local stand-in for Stripe.js v3 (served by the local stack only, at
 * /stripe-js/v3/, instead of https://js.stripe.com/v3/).
 *
 * It implements the part of Stripe.js the panels use, with Stripe's names and shapes:
 * Stripe(publishableKey, {stripeAccount, locale}), stripe.elements({clientSecret}),
 * elements.create("payment"), element.mount / on / off / once / focus / unmount /
 * destroy, elements.getElement / submit / fetchUpdates, stripe.confirmPayment, stripe.handleNextAction
 * and stripe.retrievePaymentIntent. Card fields live in an iframe of this origin; card
 * data never enters the page. 3-D Secure is a challenge frame laid over the page.
 * Frames and page talk by postMessage, each checking who sent a message and naming the
 * origin it sends to. What differs from Stripe: docs/local-development.md.
 */
(function () {
  'use strict';

  var script = document.currentScript;
  if (!script || !script.src) {
    throw new Error('Load the Stripe.js stand-in with <script src=".../stripe-js/v3/">.');
  }
  var ORIGIN = new URL(script.src).origin;
  var FRAMES = new URL('../frames/', script.src).href;
  var API = new URL('../api/', script.src).href;
  var AUTHENTICATION_FAILED =
    'We are unable to authenticate your payment method. Please choose a different ' +
    'payment method and try again.';
  var frameCount = 0;

  function integrationError(message) {
    var error = new Error(message);
    error.name = 'IntegrationError';
    return error;
  }

  function intentId(clientSecret) {
    var found = /^(pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/.exec(clientSecret || '');
    if (!found) {
      throw integrationError('Invalid value for clientSecret: it should be a ' +
                             'PaymentIntent client secret (pi_..._secret_...).');
    }
    return found[1];
  }

  // The stand-in's API answers Stripe's shapes: a PaymentIntent, or {error: {...}}.
  function callApi(path, body) {
    return fetch(API + path, {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify(body),
      credentials: 'omit',
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (response.ok && !answer.error) return {paymentIntent: answer};
        return {error: answer.error || {type: 'api_error',
                                        message: 'Stripe answered ' + response.status}};
      });
    }, function (failure) {
      return {error: {type: 'api_connection_error', message: String(failure)}};
    });
  }

  // A listener for messages from one frame of ours: right window, right origin, right id.
  function listen(frame, name, handle) {
    function onMessage(event) {
      if (event.source !== frame.contentWindow || event.origin !== ORIGIN) return;
      var data = event.data;
      if (!data || typeof data !== 'object' || data.frame !== name) return;
      handle(data);
    }
    window.addEventListener('message', onMessage);
    return function () { window.removeEventListener('message', onMessage); };
  }

  function frameUrl(page, name) {
    var fragment = new URLSearchParams({origin: window.location.origin, frame: name});
    return FRAMES + page + '#' + fragment.toString();
  }

  // ---- The Payment Element (card only) ------------------------------------------------

  function PaymentElement(elements, options) {
    this._elements = elements;
    this._options = options || {};
    this._handlers = {};
    this._frame = null;
    this._destroyed = false;
    this._pending = {};
    this._nextRequest = 1;
    this._ready = null;
  }

  PaymentElement.prototype.on = function (type, handler) {
    (this._handlers[type] = this._handlers[type] || []).push(handler);
    return this;
  };

  PaymentElement.prototype.off = function (type, handler) {
    if (!handler) {
      delete this._handlers[type];
    } else if (this._handlers[type]) {
      this._handlers[type] = this._handlers[type].filter(function (h) { return h !== handler; });
    }
    return this;
  };

  PaymentElement.prototype.once = function (type, handler) {
    var self = this;
    function wrapped(event) { self.off(type, wrapped); handler(event); }
    return this.on(type, wrapped);
  };

  PaymentElement.prototype._emit = function (type, event) {
    (this._handlers[type] || []).slice().forEach(function (handler) { handler(event); });
  };

  PaymentElement.prototype.mount = function (target) {
    if (this._destroyed) {
      throw integrationError('This Element has already been destroyed. Please create a new one.');
    }
    var node = typeof target === 'string' ? document.querySelector(target) : target;
    if (!node || !(node instanceof window.Element)) {
      throw integrationError('Invalid DOM element. Make sure to call mount() with a valid ' +
                             'DOM element or selector.');
    }
    if (this._frame) {
      throw integrationError('This Element is already mounted. Use `unmount()` to unmount ' +
                             'the Element before re-mounting.');
    }
    var self = this;
    var name = '__privateStripeFrame' + (++frameCount);
    var holder = document.createElement('div');
    holder.className = '__PrivateStripeElement';
    var frame = document.createElement('iframe');
    frame.name = name;
    frame.title = 'Secure payment input frame';
    frame.setAttribute('frameborder', '0');
    frame.setAttribute('allowtransparency', 'true');
    frame.setAttribute('scrolling', 'no');
    frame.style.cssText = 'border:0;margin:0;padding:0;width:100%;min-width:100%;' +
                          'display:block;height:220px;overflow:hidden;';
    frame.src = frameUrl('payment-element.html', name);
    holder.appendChild(frame);
    node.appendChild(holder);
    this._frame = frame;
    this._holder = holder;
    this._name = name;
    var ready;
    this._ready = new Promise(function (resolve) { ready = resolve; });
    this._stopListening = listen(frame, name, function (data) {
      if (data.type === 'ready') {
        ready();
        self._emit('ready', {elementType: 'payment'});
      } else if (data.type === 'change') {
        self._emit('change', {elementType: 'payment', empty: !!data.empty,
                              complete: !!data.complete, collapsed: false,
                              value: {type: 'card'}});
      } else if (data.type === 'focus' || data.type === 'blur' || data.type === 'escape') {
        self._emit(data.type, {elementType: 'payment'});
      } else if (data.type === 'resize' && typeof data.height === 'number') {
        frame.style.height = Math.ceil(data.height) + 'px';
      } else if (data.type === 'result' && self._pending[data.request]) {
        self._pending[data.request](data.result);
        delete self._pending[data.request];
      }
    });
  };

  // Ask the frame to do something with the card it holds; resolves with its answer.
  PaymentElement.prototype._ask = function (type, payload) {
    var self = this;
    if (!this._frame) {
      return Promise.reject(integrationError('The Payment Element is not mounted.'));
    }
    return this._ready.then(function () {
      return new Promise(function (resolve) {
        var request = self._nextRequest++;
        self._pending[request] = resolve;
        var message = Object.assign({frame: self._name, type: type, request: request},
                                    payload || {});
        self._frame.contentWindow.postMessage(message, ORIGIN);
      });
    });
  };

  PaymentElement.prototype.focus = function () {
    if (this._frame) this._ask('focus');
    return this;
  };

  PaymentElement.prototype.blur = function () {
    if (this._frame) this._ask('blur');
    return this;
  };

  PaymentElement.prototype.clear = function () {
    if (this._frame) this._ask('clear');
    return this;
  };

  PaymentElement.prototype.update = function (options) {
    Object.assign(this._options, options || {});
    return this;
  };

  PaymentElement.prototype.collapse = function () { return this; };

  PaymentElement.prototype.unmount = function () {
    if (!this._frame) return this;
    this._stopListening();
    this._holder.remove();
    var pending = this._pending;
    Object.keys(pending).forEach(function (request) {
      pending[request]({error: {type: 'validation_error', code: 'element_unmounted',
                                message: 'The Payment Element was unmounted.'}});
    });
    this._pending = {};
    this._frame = null;
    this._holder = null;
    return this;
  };

  PaymentElement.prototype.destroy = function () {
    this.unmount();
    this._destroyed = true;
    this._elements._element = null;
    return this;
  };

  // ---- Elements -----------------------------------------------------------------------

  function Elements(stripe, options) {
    if (!options || typeof options.clientSecret !== 'string') {
      throw integrationError('The stand-in supports elements({clientSecret}) only: pass ' +
                             'the PaymentIntent\'s client secret.');
    }
    intentId(options.clientSecret);
    this._stripe = stripe;
    this._clientSecret = options.clientSecret;
    this._options = options;
    this._element = null;
  }

  Elements.prototype.create = function (type, options) {
    if (type !== 'payment') {
      throw integrationError('The stand-in implements the Payment Element only, not "' +
                             type + '".');
    }
    if (this._element) {
      throw integrationError('Can only create one Element of type payment.');
    }
    this._element = new PaymentElement(this, options);
    return this._element;
  };

  Elements.prototype.getElement = function (type) {
    return type === 'payment' ? this._element : null;
  };

  // Validates the fields (errors shown in them); resolves with {} or {error}.
  Elements.prototype.submit = function () {
    if (!this._element || !this._element._frame) {
      return Promise.reject(integrationError('Mount the Payment Element before submit().'));
    }
    return this._element._ask('validate').then(function (answer) {
      return answer.error ? {error: answer.error} : {};
    });
  };

  Elements.prototype.update = function (options) {
    Object.assign(this._options, options || {});
  };

  // Stripe's Elements re-read the PaymentIntent after the server changed it (e.g. set
  // setup_future_usage when the patient agreed to keep the card). The stand-in's card
  // fields show nothing that depends on it: resolves with {} as Stripe's does.
  Elements.prototype.fetchUpdates = function () {
    return Promise.resolve({});
  };

  // ---- Stripe ---------------------------------------------------------------------------

  function Stripe(publishableKey, options) {
    if (!(this instanceof Stripe)) return new Stripe(publishableKey, options);
    if (typeof publishableKey !== 'string' || !/^pk_/.test(publishableKey)) {
      throw integrationError('Invalid API Key provided: ' + publishableKey);
    }
    options = options || {};
    this._key = publishableKey;
    this._account = options.stripeAccount || null;
    this._locale = options.locale || 'auto';
  }

  Stripe.prototype.elements = function (options) {
    return new Elements(this, options);
  };

  Stripe.prototype.retrievePaymentIntent = function (clientSecret) {
    var id;
    try { id = intentId(clientSecret); } catch (error) { return Promise.reject(error); }
    return callApi('payment_intents/' + id + '/retrieve', this._body(clientSecret));
  };

  Stripe.prototype._body = function (clientSecret, more) {
    var body = Object.assign({key: this._key, client_secret: clientSecret}, more || {});
    if (this._account) body.stripe_account = this._account;
    return body;
  };

  Stripe.prototype.confirmPayment = function (options) {
    var self = this;
    options = options || {};
    var elements = options.elements;
    if (!(elements instanceof Elements)) {
      return Promise.reject(integrationError('confirmPayment needs the elements the Payment ' +
                                             'Element was created from.'));
    }
    var element = elements._element;
    if (!element || !element._frame) {
      return Promise.reject(integrationError('Mount the Payment Element before confirmPayment.'));
    }
    var clientSecret = options.clientSecret || elements._clientSecret;
    var confirmParams = options.confirmParams || {};
    var redirect = options.redirect || 'always';
    if (redirect !== 'always' && redirect !== 'if_required') {
      return Promise.reject(integrationError('redirect must be "always" or "if_required".'));
    }
    if (redirect === 'always' && !confirmParams.return_url) {
      return Promise.reject(integrationError('confirmParams.return_url is required when ' +
                                             'redirect is "always".'));
    }
    var billing = (confirmParams.payment_method_data || {}).billing_details || {};
    var body = this._body(clientSecret, {billing_details: billing,
                                         return_url: confirmParams.return_url || null});
    return element._ask('confirm', {body: body, intent: intentId(clientSecret)})
      .then(function (answer) {
        if (answer.error) return {error: answer.error};
        var intent = answer.paymentIntent;
        if (intent.status === 'requires_action') return self._challenge(intent);
        return {paymentIntent: intent};
      })
      .then(function (result) {
        if (redirect === 'always' && result.paymentIntent) {
          var target = new URL(confirmParams.return_url, window.location.href);
          target.searchParams.set('payment_intent', result.paymentIntent.id);
          target.searchParams.set('payment_intent_client_secret', clientSecret);
          target.searchParams.set('redirect_status', result.paymentIntent.status === 'succeeded'
            ? 'succeeded' : 'pending');
          window.location.assign(target.href);
          return new Promise(function () {});
        }
        return result;
      });
  };

  Stripe.prototype.handleNextAction = function (options) {
    var self = this;
    var clientSecret = (options || {}).clientSecret;
    return this.retrievePaymentIntent(clientSecret).then(function (result) {
      if (result.error) return result;
      if (result.paymentIntent.status !== 'requires_action') {
        return {error: {type: 'invalid_request_error', code: 'payment_intent_unexpected_state',
                        message: 'handleNextAction: the PaymentIntent has a status of ' +
                                 result.paymentIntent.status + ', not requires_action.',
                        payment_intent: result.paymentIntent}};
      }
      return self._challenge(result.paymentIntent);
    });
  };

  // 3-D Secure: the challenge frame over the page until the patient completes or fails
  // it; then what the PaymentIntent became, as confirmPayment reports it.
  Stripe.prototype._challenge = function (intent) {
    var self = this;
    var clientSecret = intent.client_secret;
    var returnFocus = document.activeElement;
    var name = '__privateStripeFrame' + (++frameCount);
    var overlay = document.createElement('div');
    overlay.style.cssText = 'position:fixed;inset:0;z-index:2147483647;display:flex;' +
      'align-items:center;justify-content:center;background:rgba(0,0,0,0.5);';
    var frame = document.createElement('iframe');
    frame.name = name;
    frame.title = '3D Secure authentication';
    frame.setAttribute('frameborder', '0');
    frame.style.cssText = 'border:0;background:#fff;width:min(500px,100vw);' +
                          'height:min(600px,100vh);border-radius:4px;';
    frame.src = frameUrl('three-d-secure.html', name);
    overlay.appendChild(frame);
    document.body.appendChild(overlay);
    return new Promise(function (resolve) {
      var stop = listen(frame, name, function (data) {
        if (data.type === 'ready') {
          frame.contentWindow.postMessage({frame: name, type: 'challenge',
                                           body: self._body(clientSecret),
                                           intent: intent.id, amount: intent.amount,
                                           currency: intent.currency}, ORIGIN);
          frame.focus();
        } else if (data.type === 'done') {
          stop();
          overlay.remove();
          if (returnFocus && typeof returnFocus.focus === 'function') returnFocus.focus();
          resolve(data.answer);
        }
      });
    }).then(function (answer) {
      if (answer.error) return {error: answer.error};
      var after = answer.paymentIntent;
      if (after.status === 'requires_payment_method') {
        var last = after.last_payment_error || {};
        var failedAuthentication = last.code === 'payment_intent_authentication_failure';
        return {error: {type: last.type || 'invalid_request_error',
                        code: last.code || 'payment_intent_authentication_failure',
                        decline_code: last.decline_code,
                        message: failedAuthentication ? AUTHENTICATION_FAILED : last.message,
                        payment_intent: after}};
      }
      return {paymentIntent: after};
    });
  };

  window.Stripe = Stripe;
  Stripe.version = 3;
})();
