/*
 * The Payment Element's card fields (the stand-in's iframe). The card stays in this
 * frame: it goes from here to the stand-in's API, never to the page. The page's
 * origin comes in this frame's URL fragment; messages are accepted only from the
 * parent window at that origin and sent only to it.
 */
(function () {
  'use strict';

  var params = new URLSearchParams(window.location.hash.slice(1));
  var parentOrigin = params.get('origin');
  var name = params.get('frame');
  if (!parentOrigin || !name || window.parent === window) return;

  var fields = {
    number: document.getElementById('number'),
    expiry: document.getElementById('expiry'),
    cvc: document.getElementById('cvc'),
  };
  var order = ['number', 'expiry', 'cvc'];

  function tell(message) {
    window.parent.postMessage(Object.assign({frame: name}, message), parentOrigin);
  }

  function digits(value) { return value.replace(/\D/g, ''); }

  function luhn(number) {
    var total = 0;
    for (var i = 0; i < number.length; i++) {
      var value = Number(number[number.length - 1 - i]) * (i % 2 ? 2 : 1);
      total += value > 9 ? value - 9 : value;
    }
    return total % 10 === 0;
  }

  // Stripe's own messages and codes for what its card fields reject.
  function problem(field) {
    var value = fields[field].value;
    if (field === 'number') {
      var number = digits(value);
      if (number.length < 16) {
        return {code: 'incomplete_number', message: 'Your card number is incomplete.'};
      }
      if (!luhn(number)) return {code: 'invalid_number', message: 'Your card number is invalid.'};
    } else if (field === 'expiry') {
      var expiry = digits(value);
      if (expiry.length < 4) {
        return {code: 'incomplete_expiry',
                message: 'Your card\'s expiration date is incomplete.'};
      }
      var month = Number(expiry.slice(0, 2));
      var year = 2000 + Number(expiry.slice(2, 4));
      var now = new Date();
      if (month < 1 || month > 12) {
        return {code: 'invalid_expiry_month',
                message: 'Your card\'s expiration date is invalid.'};
      }
      if (year < now.getFullYear() ||
          (year === now.getFullYear() && month < now.getMonth() + 1)) {
        return {code: 'invalid_expiry_year_past',
                message: 'Your card\'s expiration year is in the past.'};
      }
    } else if (digits(value).length < 3) {
      return {code: 'incomplete_cvc', message: 'Your card\'s security code is incomplete.'};
    }
    return null;
  }

  function show(field, found) {
    var input = fields[field];
    document.getElementById(field + '-error').textContent = found ? found.message : '';
    if (found) {
      input.setAttribute('aria-invalid', 'true');
    } else {
      input.removeAttribute('aria-invalid');
    }
  }

  function state() {
    var empty = order.every(function (f) { return fields[f].value === ''; });
    var complete = order.every(function (f) { return problem(f) === null; });
    return {empty: empty, complete: complete};
  }

  function format(field) {
    var input = fields[field];
    var raw = digits(input.value);
    if (field === 'number') {
      raw = raw.slice(0, 16);
      input.value = raw.replace(/(\d{4})(?=\d)/g, '$1 ');
    } else if (field === 'expiry') {
      raw = raw.slice(0, 4);
      input.value = raw.length > 2 ? raw.slice(0, 2) + ' / ' + raw.slice(2) : raw;
    } else {
      input.value = raw.slice(0, 4);
    }
  }

  order.forEach(function (field) {
    var input = fields[field];
    input.addEventListener('input', function () {
      format(field);
      // An error goes away as soon as the field is right; new ones wait for blur.
      if (input.getAttribute('aria-invalid') && problem(field) === null) show(field, null);
      tell(Object.assign({type: 'change'}, state()));
    });
    input.addEventListener('blur', function () {
      if (input.value !== '') show(field, problem(field));
      tell({type: 'blur'});
    });
    input.addEventListener('focus', function () { tell({type: 'focus'}); });
    input.addEventListener('keydown', function (event) {
      if (event.key === 'Escape') tell({type: 'escape'});
    });
  });

  function validate() {
    var first = null;
    order.forEach(function (field) {
      var found = problem(field);
      show(field, found);
      if (found && !first) first = {field: field, problem: found};
    });
    if (!first) return null;
    fields[first.field].focus();
    return {type: 'validation_error', code: first.problem.code,
            message: first.problem.message};
  }

  function card() {
    var expiry = digits(fields.expiry.value);
    return {number: digits(fields.number.value), exp_month: Number(expiry.slice(0, 2)),
            exp_year: 2000 + Number(expiry.slice(2, 4)), cvc: digits(fields.cvc.value)};
  }

  function setBusy(busy) {
    order.forEach(function (field) { fields[field].readOnly = busy; });
  }

  function confirm(message) {
    var error = validate();
    if (error) return Promise.resolve({error: error});
    setBusy(true);
    var body = Object.assign({}, message.body, {card: card()});
    return fetch('../api/payment_intents/' + encodeURIComponent(message.intent) + '/confirm', {
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
    }).then(function (result) {
      setBusy(false);
      return result;
    });
  }

  var requests = {
    validate: function () {
      var error = validate();
      return Promise.resolve(error ? {error: error} : {});
    },
    confirm: confirm,
    focus: function () { fields.number.focus(); return Promise.resolve({}); },
    blur: function () {
      if (document.activeElement) document.activeElement.blur();
      return Promise.resolve({});
    },
    clear: function () {
      order.forEach(function (field) { fields[field].value = ''; show(field, null); });
      tell(Object.assign({type: 'change'}, state()));
      return Promise.resolve({});
    },
  };

  window.addEventListener('message', function (event) {
    if (event.source !== window.parent || event.origin !== parentOrigin) return;
    var message = event.data;
    if (!message || message.frame !== name || !requests[message.type]) return;
    requests[message.type](message).then(function (result) {
      tell({type: 'result', request: message.request, result: result});
    });
  });

  if (window.ResizeObserver) {
    new ResizeObserver(function () {
      tell({type: 'resize', height: document.documentElement.scrollHeight});
    }).observe(document.body);
  }
  tell({type: 'resize', height: document.documentElement.scrollHeight});
  tell({type: 'ready'});
})();
