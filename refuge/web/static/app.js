// refuge web desk: uploads with a progress bar per file, drag and drop, and a packet build's progress.
// No inline script anywhere (the Content-Security-Policy forbids it); every page works without this file.
"use strict";

(function () {
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  var PER_FILE = ["supersedes", "translation_of", "translator", "dialect"];

  function perFileRows(form, files) {
    // One row a chosen file: its own "new version of", "translation of", translator and dialect (the form's
    // values as the default); sent as the plain field names with that file alone.
    var table = document.getElementById("per-file");
    if (!table) { return; }
    while (table.firstChild) { table.removeChild(table.firstChild); }
    table.hidden = !files.length;
    if (!files.length) { return; }
    var caption = document.createElement("caption");
    caption.textContent = table.dataset.caption || "";
    table.appendChild(caption);
    var head = document.createElement("tr");
    [table.dataset.file || ""].concat(PER_FILE.map(function (field) {
      var label = form.elements[field].closest("label");
      return label ? label.firstChild.textContent.trim() : field;
    })).forEach(function (text) { var th = document.createElement("th"); th.textContent = text; head.appendChild(th); });
    table.appendChild(head);
    Array.prototype.forEach.call(files, function (file, i) {
      var row = document.createElement("tr");
      var name = document.createElement("td");
      name.textContent = file.name;
      row.appendChild(name);
      PER_FILE.forEach(function (field) {
        var common = form.elements[field];
        var own = common.cloneNode(true);
        own.name = field + "." + i;
        own.id = common.id + "-" + i;
        own.value = common.value;
        var label = common.closest("label");
        own.setAttribute("aria-label", (label ? label.firstChild.textContent.trim() : field) + " · " + file.name);
        var cell = document.createElement("td");
        cell.appendChild(own);
        row.appendChild(cell);
      });
      table.appendChild(row);
    });
  }

  function uploadOne(form, file, list, index) {
    return new Promise(function (resolve) {
      var item = document.createElement("li");
      var label = document.createElement("span");
      var bar = document.createElement("progress");
      var outcome = document.createElement("span");
      label.textContent = file.name + " ";
      bar.max = file.size || 1;
      bar.value = 0;
      outcome.className = "outcome";
      item.appendChild(label); item.appendChild(bar); item.appendChild(outcome);
      item.dataset.name = file.name;
      list.appendChild(item);
      var data = new FormData();
      ["type", "tags", "person", "lang", "title", "date", "allow_duplicate"].concat(PER_FILE).forEach(function (name) {
        var field = (index === undefined ? null : form.elements[name + "." + index]) || form.elements[name];
        if (field && field.type === "checkbox" ? field.checked : field && field.value) { data.append(name, field.value); }
      });
      data.append("file", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("action"));
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) { if (e.lengthComputable) { bar.max = e.total; bar.value = e.loaded; } });
      xhr.addEventListener("load", function () {
        var answer = {};
        try { answer = JSON.parse(xhr.responseText); } catch (err) { answer = {error: xhr.statusText}; }
        var result = (answer.results || [])[0] || {};
        if (result.id) {
          item.className = "ok"; bar.value = bar.max;
          outcome.textContent = " " + [result.id].concat(answer.notes || []).join(" · ");
        } else {
          item.className = "error";
          outcome.textContent = " refuge: error: " + (result.error || answer.error || xhr.statusText);
        }
        resolve(!!result.id);
      });
      xhr.addEventListener("error", function () {
        item.className = "error"; outcome.textContent = " refuge: error: the upload was interrupted"; resolve(false);
      });
      xhr.send(data);
    });
  }

  function uploadAll(form, files, perFile) {
    var list = document.getElementById("progress");
    var added = 0;
    var chain = Promise.resolve();
    Array.prototype.forEach.call(files, function (file, i) {
      chain = chain.then(function () {
        return uploadOne(form, file, list, perFile ? i : undefined).then(function (ok) { if (ok) { added++; } });
      });
    });
    return chain.then(function () {
      document.body.dataset.uploaded = String(added);
      var done = document.createElement("li");
      done.id = "upload-done";
      var link = document.createElement("a");
      link.href = window.location.pathname + window.location.search;
      link.textContent = "↻ " + (list.dataset.refresh || "");
      done.appendChild(link);
      list.appendChild(done);
    });
  }

  function filesOf(dataTransfer) {
    // Folders dropped whole: read their files (one level of the browser's entries API, then recursively).
    var items = dataTransfer.items;
    if (!items || !items.length || !items[0].webkitGetAsEntry) { return Promise.resolve(dataTransfer.files); }
    var entries = [];
    for (var i = 0; i < items.length; i++) { var e = items[i].webkitGetAsEntry(); if (e) { entries.push(e); } }
    if (!entries.some(function (e) { return e.isDirectory; })) { return Promise.resolve(dataTransfer.files); }
    var out = [];
    function walk(entry) {
      if (entry.isFile) { return new Promise(function (res) { entry.file(function (f) { out.push(f); res(); }, res); }); }
      return new Promise(function (res) {
        entry.createReader().readEntries(function (children) { Promise.all(children.map(walk)).then(res); }, res);
      });
    }
    return Promise.all(entries.map(walk)).then(function () { return out; });
  }

  var form = document.getElementById("upload");
  if (form) {
    var drop = document.getElementById("drop");
    form.addEventListener("submit", function (e) {
      var input = document.getElementById("up-files");
      if (!input.files.length) { return; }
      e.preventDefault();
      uploadAll(form, input.files, true).then(function () { input.value = ""; perFileRows(form, []); });
    });
    document.getElementById("up-files").addEventListener("change", function (e) { perFileRows(form, e.target.files); });
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
    drop.addEventListener("drop", function (e) {
      e.preventDefault();
      drop.classList.remove("over");
      filesOf(e.dataTransfer).then(function (files) { uploadAll(form, files); });
    });
  }

  var job = document.getElementById("job");
  if (job && job.dataset.state === "running") {
    var poll = function () {
      var xhr = new XMLHttpRequest();
      xhr.open("GET", job.dataset.url);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.addEventListener("load", function () {
        var s = {};
        try { s = JSON.parse(xhr.responseText); } catch (err) { return; }
        var steps = document.getElementById("job-steps");
        while (steps.children.length < (s.steps || []).length) {
          var li = document.createElement("li"); li.textContent = s.steps[steps.children.length]; steps.appendChild(li);
        }
        if (s.state === "running") { setTimeout(poll, 700); } else { window.location.reload(); }
      });
      xhr.send();
    };
    setTimeout(poll, 500);
  }
})();
