// The HTML report of bkcache-conformance (html.c embeds this file): the
// status filter, whose state lives in the address ("#show=FAIL,WARN", or
// "?show=" when the fragment is taken), so a link opens the same view; and
// links to a check ("#r12") open its details.
(function () {
  'use strict';
  var boxes = Array.prototype.slice.call(document.querySelectorAll('#filters input[data-status]'));

  function wanted() {
    var m = /[#&]show=([A-Z,]*)/.exec(location.hash) || /[?&]show=([A-Z,]*)/.exec(location.search);
    return m ? m[1].split(',') : null;
  }

  function apply() {
    var on = {};
    boxes.forEach(function (b) { on[b.getAttribute('data-status')] = b.checked; });
    document.querySelectorAll('tbody.check').forEach(function (t) {
      t.hidden = !on[t.getAttribute('data-status')];
    });
    document.querySelectorAll('tbody.suite').forEach(function (h) {
      var any = false;
      document.querySelectorAll('tbody.check').forEach(function (t) {
        if (!t.hidden && t.getAttribute('data-suite') === h.getAttribute('data-suite')) any = true;
      });
      h.hidden = !any;
    });
  }

  function remember() {
    var on = boxes.filter(function (b) { return b.checked; })
      .map(function (b) { return b.getAttribute('data-status'); });
    try { history.replaceState(null, '', '#show=' + on.join(',')); } catch (e) { /* file: */ }
  }

  // The filter the address asks for, then the check it points at (shown
  // even when the filter hides its status).
  function route() {
    var w = wanted();
    if (w) boxes.forEach(function (b) { b.checked = w.indexOf(b.getAttribute('data-status')) >= 0; });
    apply();
    var m = /^#(r[0-9]+)$/.exec(location.hash);
    var target = m && document.getElementById(m[1]);
    if (target) {
      target.hidden = false;
      document.querySelectorAll('tbody.suite').forEach(function (h) {
        if (h.getAttribute('data-suite') === target.getAttribute('data-suite')) h.hidden = false;
      });
      var d = target.querySelector('details');
      if (d) d.open = true;
      target.scrollIntoView();
    }
  }

  function openAll(open) {
    document.querySelectorAll('tbody.check:not([hidden]) details.more').forEach(function (d) {
      d.open = open;
    });
  }

  boxes.forEach(function (b) { b.addEventListener('change', function () { apply(); remember(); }); });
  document.getElementById('expand').addEventListener('click', function () { openAll(true); });
  document.getElementById('collapse').addEventListener('click', function () { openAll(false); });
  window.addEventListener('hashchange', route);
  route();
  document.documentElement.setAttribute('data-ready', '1');
  // Milliseconds from navigation to here (parsed, filtered): the tests print it.
  document.documentElement.setAttribute('data-ready-ms', String(Math.round(performance.now())));
}());
