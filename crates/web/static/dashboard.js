// The dashboard's progressive behaviour. It lives in this one file, served
// from /_static/, because the pages' Content-Security-Policy allows no
// inline script (`script-src 'self'`): markup that slipped past escaping
// still could not run. Pages work without it; it only adds conveniences.
(function () {
  'use strict';

  // Dates arrive in UTC; show them in the time zone chosen in account
  // settings (the navigation bar carries it as data-timezone).
  function localTimes() {
    var header = document.querySelector('header.top[data-timezone]');
    if (!header) { return; }
    var tz = header.getAttribute('data-timezone');
    var format;
    try {
      format = new Intl.DateTimeFormat(undefined, { timeZone: tz, dateStyle: 'medium', timeStyle: 'short' });
    } catch (e) {
      format = new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'short' });
      tz = 'UTC';
    }
    document.querySelectorAll('time[datetime]').forEach(function (el) {
      var when = new Date(el.getAttribute('datetime'));
      if (isNaN(when)) { return; }
      var text = format.format(when) + ' (' + tz + ')';
      if (el.classList.contains('abs')) { el.textContent = text; }
      el.title = text;
    });
  }

  // <select data-autosubmit>: choosing an option submits its form.
  function autoSubmit() {
    document.querySelectorAll('select[data-autosubmit]').forEach(function (select) {
      select.addEventListener('change', function () { select.form.submit(); });
    });
  }

  // The issue stream's header checkbox ticks every row.
  function selectAll() {
    var all = document.getElementById('select-all');
    if (!all) { return; }
    all.addEventListener('change', function () {
      document.querySelectorAll('#issues tbody input[type=checkbox]').forEach(function (box) {
        box.checked = all.checked;
      });
    });
  }

  // <button class="copy" data-copy="…"> copies its text (DSNs).
  function copyButtons() {
    document.querySelectorAll('button.copy[data-copy]').forEach(function (button) {
      button.addEventListener('click', function () {
        var text = button.getAttribute('data-copy');
        var done = function () { button.textContent = 'Copied'; };
        if (navigator.clipboard) { navigator.clipboard.writeText(text).then(done, function () {}); }
      });
    });
  }

  function start() {
    localTimes();
    autoSubmit();
    selectAll();
    copyButtons();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
