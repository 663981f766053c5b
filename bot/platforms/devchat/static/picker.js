// The person picker: filter the list as you type (names, ids, 系部, roles, classes).
(function () {
  "use strict";
  var box = document.getElementById("filter");
  if (!box) return;
  box.addEventListener("input", function () {
    var q = box.value.trim().toLowerCase();
    document.querySelectorAll("section.dept").forEach(function (sec) {
      var shown = 0;
      sec.querySelectorAll("li.person").forEach(function (li) {
        var hit = !q || li.dataset.search.toLowerCase().indexOf(q) >= 0;
        li.hidden = !hit;
        if (hit) shown++;
      });
      sec.hidden = shown === 0;
    });
  });
})();
