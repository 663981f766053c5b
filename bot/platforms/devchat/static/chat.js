// One person's phone: polls the bot's messages, posts text, images and card clicks.
// All user-facing words come from the page's #devchat-config (rendered from chat.html).
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("devchat-config").textContent);
  var T = config.text;
  var userid = config.userid;
  var list = document.getElementById("messages");
  var hint = document.getElementById("hint");
  var toast = document.getElementById("toast");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var sendBtn = document.getElementById("send");
  var imageInput = document.getElementById("image-input");
  var POLL_MS = 1000;
  var FAST_MS = 250;  // right after the person acts, the answer is usually a moment away
  var FAST_FOR_MS = 4000;

  var lastId = 0;
  var firstPoll = true;
  var polling = false;
  var again = false;
  var timer = null;
  var cards = {};  // row id -> card element
  var toastTimer = null;
  var fastUntil = 0;

  function clientId() {
    var a = new Uint8Array(12);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function safeUrl(url) {
    return /^(https?:\/\/|\/)/i.test(url || "") ? url : null;
  }

  function showToast(text, sticky) {
    toast.textContent = text;
    toast.hidden = false;
    clearTimeout(toastTimer);
    if (!sticky) toastTimer = setTimeout(function () { toast.hidden = true; }, 4000);
  }

  function hideToast() { toast.hidden = true; }

  // --- markdown: WeCom's small subset, built as DOM nodes (never innerHTML) ---
  var INLINE = /\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)|`([^`]+)`|<font color="(\w+)">([\s\S]*?)<\/font>/g;

  function inline(parent, text) {
    var pos = 0, m;
    INLINE.lastIndex = 0;
    while ((m = INLINE.exec(text)) !== null) {
      if (m.index > pos) parent.appendChild(document.createTextNode(text.slice(pos, m.index)));
      if (m[1] !== undefined) parent.appendChild(el("strong", null, m[1]));
      else if (m[2] !== undefined) {
        var href = safeUrl(m[3]);
        if (href) {
          var a = el("a", null, m[2]);
          a.href = href; a.target = "_blank"; a.rel = "noopener";
          parent.appendChild(a);
        } else parent.appendChild(document.createTextNode(m[0]));
      } else if (m[4] !== undefined) parent.appendChild(el("code", null, m[4]));
      else parent.appendChild(el("span", "font-" + m[5], m[6]));
      pos = INLINE.lastIndex;
    }
    if (pos < text.length) parent.appendChild(document.createTextNode(text.slice(pos)));
  }

  function markdown(parent, text) {
    text.split("\n").forEach(function (line, i) {
      var h = /^(#{1,6})\s+(.*)$/.exec(line), q = /^>\s?(.*)$/.exec(line), node;
      if (h) { node = el("div", "md-h"); inline(node, h[2]); }
      else if (q) { node = el("div", "md-quote"); inline(node, q[1]); }
      else { node = el("div", "md-line"); inline(node, line); if (!line) node.appendChild(document.createElement("br")); }
      parent.appendChild(node);
    });
  }

  // --- drawing messages ---
  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  function scrollDown() { list.scrollTop = list.scrollHeight; }

  function row(direction, kind) {
    var r = el("div", "row " + direction + " kind-" + kind);
    if (direction === "out") r.appendChild(el("div", "avatar", "教"));
    return r;
  }

  function drawCard(m) {
    var c = m.card || {};
    var box = el("div", "card");
    box.dataset.id = m.id;
    box.dataset.cardTaskId = m.card_task_id || "";
    if (c.title) box.appendChild(el("div", "card-title", c.title));
    if (c.description) box.appendChild(el("div", "card-desc", c.description));
    if (c.fields && c.fields.length) {
      var dl = el("dl", "card-fields");
      c.fields.forEach(function (f) {
        var line = el("div", "field");
        line.appendChild(el("dt", null, f[0]));
        line.appendChild(el("dd", null, f[1]));
        dl.appendChild(line);
      });
      box.appendChild(dl);
    }
    var href = safeUrl(c.url);
    if (href) {
      var a = el("a", "card-link", c.url_text || T.link);
      a.href = href; a.target = "_blank"; a.rel = "noopener";
      box.appendChild(a);
    }
    var buttons = el("div", "card-buttons");
    (c.buttons || []).forEach(function (b) {
      var btn = el("button", "card-btn style-" + (b.style || "primary"), b.text);
      btn.type = "button";
      btn.dataset.key = b.key;
      btn.addEventListener("click", function () { click(box, b.key); });
      buttons.appendChild(btn);
    });
    box.appendChild(buttons);
    cards[m.id] = box;
    if (m.replaced) markReplaced(m.id, m.replaced);
    return box;
  }

  function markReplaced(id, text) {
    var box = cards[id];
    if (!box || box.dataset.replaced === text) return;
    box.dataset.replaced = text;
    box.classList.add("replaced");
    var buttons = box.querySelector(".card-buttons");
    buttons.textContent = "";
    var done = el("button", "card-btn done", text);
    done.type = "button";
    done.disabled = true;
    buttons.appendChild(done);
  }

  function draw(m) {
    var r = row(m.direction, m.kind);
    var body;
    if (m.kind === "card") body = drawCard(m);
    else if (m.kind === "image") {
      body = el("div", "bubble image");
      var img = el("img");
      img.src = m.image_url; img.alt = m.filename || T.image;
      img.addEventListener("load", function () { if (nearBottom()) scrollDown(); });
      body.appendChild(img);
    } else if (m.kind === "click") body = el("div", "bubble click", m.text);
    else if (m.kind === "markdown") { body = el("div", "bubble markdown"); markdown(body, m.text); }
    else body = el("div", "bubble text", m.text);
    var wrap = el("div", "content");
    wrap.appendChild(body);
    if (m.time) wrap.appendChild(el("div", "time", m.time));
    r.appendChild(wrap);
    r.dataset.id = m.id;
    list.appendChild(r);
  }

  // --- polling ---
  function poll() {
    if (polling) { again = true; return; }
    polling = true;
    clearTimeout(timer);
    var url = "/devchat/api/messages?userid=" + encodeURIComponent(userid) + "&after=" + lastId;
    fetch(url, { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error(String(r.status));
      return r.json();
    }).then(function (data) {
      var stick = nearBottom() || firstPoll;
      data.messages.forEach(function (m) { if (m.id > lastId) draw(m); });
      Object.keys(data.replaced || {}).forEach(function (id) { markReplaced(id, data.replaced[id]); });
      if (data.messages.length && stick) scrollDown();
      var mine = data.messages.some(function (m) { return m.direction === "in"; });
      if (mine) scrollDown();
      lastId = Math.max(lastId, data.last_id || 0);
      hint.hidden = lastId > 0;
      if (toast.dataset.offline) { delete toast.dataset.offline; hideToast(); }
      if (firstPoll && lastId === 0) enter();
      firstPoll = false;
    }).catch(function () {
      toast.dataset.offline = "1";
      showToast(T.offline, true);
    }).then(function () {
      polling = false;
      if (again) { again = false; poll(); }
      else timer = setTimeout(poll, Date.now() < fastUntil ? FAST_MS : POLL_MS);
    });
  }

  function post(path, payload) {
    fastUntil = Date.now() + FAST_FOR_MS;
    var opts = payload instanceof FormData
      ? { method: "POST", body: payload }
      : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) };
    return fetch(path, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) throw new Error(data.message || String(r.status));
        return data;
      });
    }, function () { throw new Error(T.network); });
  }

  // Opening an empty chat is like opening the WeCom app for the first time: the bot may greet.
  function enter() {
    post("/devchat/api/enter", { userid: userid, client_id: clientId() }).then(poll, function () {});
  }

  // --- sending ---
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    sendBtn.disabled = true;
    post("/devchat/api/send", { userid: userid, text: text, client_id: clientId() }).then(function () {
      poll();
    }, function (err) {
      if (!input.value) input.value = text;
      showToast(T.failed + err.message);
    }).then(function () { sendBtn.disabled = false; input.focus(); });
  });

  document.getElementById("pick-image").addEventListener("click", function () { imageInput.click(); });

  imageInput.addEventListener("change", function () {
    var file = imageInput.files && imageInput.files[0];
    if (!file) return;
    var fd = new FormData();
    fd.append("userid", userid);
    fd.append("client_id", clientId());
    fd.append("file", file, file.name);
    showToast(T.uploading, true);
    post("/devchat/api/image", fd).then(function () { hideToast(); poll(); }, function (err) {
      showToast(T.failed + err.message);
    }).then(function () { imageInput.value = ""; });
  });

  function click(box, key) {
    var buttons = box.querySelectorAll(".card-btn");
    buttons.forEach(function (b) { b.disabled = true; });
    box.classList.add("pending");
    post("/devchat/api/click", {
      userid: userid, key: key, card_task_id: box.dataset.cardTaskId, client_id: clientId(),
    }).then(function () { poll(); }, function (err) { showToast(T.failed + err.message); }).then(function () {
      box.classList.remove("pending");
      if (!box.dataset.replaced) buttons.forEach(function (b) { b.disabled = false; });
    });
  }

  poll();
})();
