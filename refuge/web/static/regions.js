// refuge web desk: drag a rectangle on a page's preview to black out a region (no inline script: the CSP
// forbids it). The form works without this file: type the box in PDF points instead.
"use strict";

(function () {
  var canvas = document.getElementById("region-canvas");
  var form = document.getElementById("region-form");
  if (!canvas || !form) { return; }
  var img = document.getElementById("page");
  var draft = document.getElementById("region-draft");
  var field = document.getElementById("region-frac");
  var typed = document.getElementById("region-box");
  var said = document.getElementById("region-drawn");
  var start = null;

  function place(el, f) {  // f: [x0, y0, x1, y1] fractions of the image, from its top-left
    el.style.left = (Math.min(f[0], f[2]) * 100) + "%";
    el.style.top = (Math.min(f[1], f[3]) * 100) + "%";
    el.style.width = (Math.abs(f[2] - f[0]) * 100) + "%";
    el.style.height = (Math.abs(f[3] - f[1]) * 100) + "%";
  }

  function at(e) {
    var r = img.getBoundingClientRect();
    var x = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    var y = Math.min(1, Math.max(0, (e.clientY - r.top) / r.height));
    return [x, y];
  }

  Array.prototype.forEach.call(canvas.querySelectorAll(".region[data-frac]"), function (el) {
    place(el, el.dataset.frac.split(",").map(Number));
  });

  canvas.addEventListener("dragstart", function (e) { e.preventDefault(); });
  canvas.addEventListener("mousedown", function (e) {
    if (e.button !== 0) { return; }
    e.preventDefault();
    start = at(e);
    draft.hidden = false;
    place(draft, start.concat(start));
  });
  document.addEventListener("mousemove", function (e) {
    if (!start) { return; }
    place(draft, start.concat(at(e)));
  });
  document.addEventListener("mouseup", function (e) {
    if (!start) { return; }
    var f = start.concat(at(e));
    start = null;
    place(draft, f);
    field.value = f.map(function (v) { return v.toFixed(5); }).join(",");
    if (typed) { typed.value = ""; }
    said.textContent = said.dataset.drawn || said.textContent;
    said.className = "note ok";
    document.body.dataset.drawn = field.value;
  });
  if (typed) {
    typed.addEventListener("input", function () { if (typed.value) { field.value = ""; draft.hidden = true; } });
  }
})();
