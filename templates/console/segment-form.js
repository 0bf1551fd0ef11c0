// The segment form's live count: as conditions change, ask the server how many shoppers
// match and show a few of them. No library, no other origin (the page's CSP allows only
// this script and calls to us).
(function () {
  "use strict";
  var form = document.getElementById("segment-form");
  if (!form) return;
  var count = document.getElementById("live-count");
  var table = document.getElementById("sample");
  var body = table.querySelector("tbody");
  var timer = null;
  var asked = 0;

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
  }

  function clearMarks() {
    // The server's marks from the last save go too: the live ones say what is wrong now.
    form.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
    form.querySelectorAll("[aria-invalid=true]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
    });
  }

  function mark(errors) {
    Object.keys(errors).forEach(function (name) {
      var field = form.querySelector("[name='" + name + "']");
      var note = document.createElement("p");
      note.className = "field-error";
      note.setAttribute("data-live-error", "");
      note.textContent = errors[name];
      if (field) {
        // The same id the server gives its mark, so a screen reader finds either.
        note.id = name + "-error";
        field.setAttribute("aria-invalid", "true");
        field.setAttribute("aria-describedby", note.id);
        (field.closest("label") || field).after(note);
      } else {
        count.after(note);
      }
    });
  }

  function show(reply) {
    clearMarks();
    body.textContent = "";
    if (reply.errors && Object.keys(reply.errors).length) {
      count.textContent = "Проверьте отмеченные поля";
      table.hidden = true;
      mark(reply.errors);
      return;
    }
    count.textContent = reply.count_text;
    reply.sample.forEach(function (s) {
      var row = document.createElement("tr");
      cell(row, s.name);
      cell(row, s.card);
      cell(row, String(s.balance));
      cell(row, s.last_purchase);
      cell(row, s.rfm);
      body.appendChild(row);
    });
    table.hidden = reply.sample.length === 0;
  }

  function ask() {
    var mine = ++asked;
    var data = new URLSearchParams(new FormData(form));
    fetch(form.dataset.preview, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    })
      .then(function (r) { return r.json(); })
      .then(function (reply) { if (mine === asked) show(reply); })
      .catch(function () { count.textContent = "Не удалось посчитать: проверьте связь"; });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(ask, 350);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  ask();
})();
