// The public report form's only script: the 112 sentence appears the moment
// the immediate-danger box is ticked (the server's answer repeats it). The
// form works the same without it.
(function () {
  'use strict';
  var box = document.getElementById('immediate_danger');
  var notice = document.getElementById('danger-112');
  if (!box || !notice) return;
  function show() { notice.hidden = !box.checked; }
  box.addEventListener('change', show);
  show();
})();
