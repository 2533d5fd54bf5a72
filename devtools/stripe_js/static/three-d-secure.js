/*
 * The 3-D Secure challenge (the stand-in's frame laid over the page), like Stripe's test
 * page: "Complete" or "Fail". The answer goes to the stand-in's API from here; the page
 * is told only that it is done, and what the PaymentIntent became.
 */
(function () {
  'use strict';

  var params = new URLSearchParams(window.location.hash.slice(1));
  var parentOrigin = params.get('origin');
  var name = params.get('frame');
  if (!parentOrigin || !name || window.parent === window) return;

  var challenge = null;
  var buttons = [document.getElementById('complete'), document.getElementById('fail')];

  function tell(message) {
    window.parent.postMessage(Object.assign({frame: name}, message), parentOrigin);
  }

  function amount(minor, currency) {
    try {
      var digits = new Intl.NumberFormat('en', {style: 'currency', currency: currency})
        .resolvedOptions().maximumFractionDigits;
      return new Intl.NumberFormat('en', {style: 'currency', currency: currency})
        .format(minor / Math.pow(10, digits));
    } catch (ignored) {
      return minor + ' ' + currency;
    }
  }

  function answer(success) {
    if (!challenge) return;
    buttons.forEach(function (button) { button.disabled = true; });
    document.getElementById('problem').textContent = '';
    var body = Object.assign({}, challenge.body, {success: success});
    fetch('../api/payment_intents/' + encodeURIComponent(challenge.intent) + '/authenticate', {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify(body),
      credentials: 'omit',
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (result) {
        if (response.ok && !result.error) {
          tell({type: 'done', answer: {paymentIntent: result}});
        } else if (response.status === 402) {
          tell({type: 'done', answer: {error: result.error}});
        } else {
          throw new Error((result.error && result.error.message) || String(response.status));
        }
      });
    }).catch(function (failure) {
      document.getElementById('problem').textContent =
        'The authentication could not be sent: ' + failure.message + ' Try again.';
      buttons.forEach(function (button) { button.disabled = false; });
    });
  }

  document.getElementById('complete').addEventListener('click', function () { answer(true); });
  document.getElementById('fail').addEventListener('click', function () { answer(false); });

  window.addEventListener('message', function (event) {
    if (event.source !== window.parent || event.origin !== parentOrigin) return;
    var message = event.data;
    if (!message || message.frame !== name || message.type !== 'challenge') return;
    challenge = message;
    document.getElementById('what').textContent = 'Your bank asks you to confirm a payment of ' +
      amount(message.amount, message.currency.toUpperCase()) + '.';
    document.getElementById('complete').focus();
  });

  tell({type: 'ready'});
})();
