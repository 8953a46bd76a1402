// redtask dashboard: live refresh of the topics table, "select all" on the incidents page and
// confirmation of destructive forms. Plain DOM; data is inserted with textContent only.
"use strict";

(function () {
  function age(ms) {
    if (ms === null) return "-";
    var s = Math.floor(Math.max(ms, 0) / 1000);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    if (h) return h + "h " + two(m) + "m";
    if (m) return m + "m " + two(r) + "s";
    return r + "s";
  }

  function cell(row, text, label, extra) {
    var td = document.createElement("td");
    td.className = "n" + (extra || "");
    td.setAttribute("data-label", label);
    td.textContent = text;
    row.appendChild(td);
  }

  function drawTopics(data, tbody, base) {
    var rows = document.createDocumentFragment();
    data.topics.forEach(function (t) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-topic", t.topicName);
      var name = document.createElement("td");
      name.setAttribute("data-label", "Topic");
      var link = document.createElement("a");
      link.href = base + "/tasks?topic=" + encodeURIComponent(t.topicName);
      link.textContent = t.topicName;
      name.appendChild(link);
      tr.appendChild(name);
      cell(tr, t.available, "Available");
      cell(tr, t.locked, "Locked");
      cell(tr, t.retrying, "Retrying");
      cell(tr, t.incidents, "Incidents", t.incidents ? " bad" : "");
      cell(tr, age(t.oldestAgeMs), "Oldest waiting");
      cell(tr, t.completedPerMinute.join(" · "), "Completed / min");
      cell(tr, t.completedLastMinutes, "Last " + data.rateMinutes + " min");
      rows.appendChild(tr);
    });
    if (!data.topics.length) {
      var empty = document.createElement("tr");
      empty.className = "empty";
      var td = document.createElement("td");
      td.colSpan = 8;
      td.textContent = "No topic holds a task.";
      empty.appendChild(td);
      rows.appendChild(empty);
    }
    tbody.replaceChildren(rows);
    document.getElementById("running-instances").textContent = data.runningInstances;
    document.getElementById("open-incidents").textContent = data.openIncidents;
  }

  var live = document.getElementById("refreshed");
  if (live) {
    var source = live.getAttribute("data-source");
    var base = source.replace(/\/api\/topics$/, "");
    var tbody = document.querySelector("#topics tbody");
    var refresh = function () {
      fetch(source, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (data) {
          drawTopics(data, tbody, base);
          live.textContent = "updated " + new Date().toLocaleTimeString();
          live.className = "live";
        })
        .catch(function () { live.textContent = "not updated"; live.className = "live stale"; })
        .finally(function () { setTimeout(refresh, 2000); });
    };
    setTimeout(refresh, 2000);
  }

  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=task]").forEach(function (box) {
        box.checked = all.checked;
      });
    });
  }

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
})();
