/* Mentor search: fill the learner's time zone from the browser, re-run the search when the sort changes. */
(function () {
  "use strict";
  var tz = document.querySelector("[data-autofill-tz]");
  if (tz && !new URLSearchParams(window.location.search).has("tz") && tz.value === "UTC") {
    try {
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zone) { tz.value = zone; }
    } catch (e) { /* keep UTC */ }
  }
  document.querySelectorAll("[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      if (select.form) { select.form.requestSubmit ? select.form.requestSubmit() : select.form.submit(); }
    });
  });
})();
