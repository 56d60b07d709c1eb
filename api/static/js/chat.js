/* MentorHub chat: one room per page over Socket.IO (namespace /chat).
   Message text arrives as HTML that the server escaped and formatted; names and file names are set
   with textContent only. */
(function () {
  "use strict";
  var switcher = document.getElementById("chat-switch");  // the room select of narrow screens
  if (switcher) {
    switcher.addEventListener("change", function () { window.location.assign(switcher.value); });
  }
  var root = document.getElementById("chat");
  if (!root || typeof io === "undefined") { return; }

  var slug = root.dataset.room;
  var roomId = Number(root.dataset.roomId);
  var direct = root.dataset.kind === "direct";
  var me = Number(root.dataset.me);
  var admin = root.dataset.admin === "1";
  var csrf = root.dataset.csrf;
  var maxVoice = Number(root.dataset.maxVoice) || 120;

  var list = document.getElementById("chat-messages");
  var log = document.getElementById("chat-log");
  var older = document.getElementById("chat-older");
  var onlineEl = document.getElementById("chat-online");
  var typingEl = document.getElementById("chat-typing");
  var statusEl = document.getElementById("chat-status");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var fileInput = document.getElementById("chat-file");
  var recordButton = document.getElementById("chat-record");
  var badge = document.getElementById("chat-unread");

  var seen = {};          // message id -> <li>
  var deleted = {};       // message id -> true: removed by a moderator
  var lastId = 0;         // the newest message id we have: a reconnect asks for what came after it
  var firstId = null;     // the oldest one shown: scroll-back asks for what came before it
  var online = {};        // user id -> name
  var readBy = {};        // user id -> last message id they read (one-on-one rooms)
  var typers = {};        // user id -> {name, timer}

  var unsentShown = false;  // "Not sent: not connected" stays over the retry notices until the next send or reconnect

  function status(text, isError) {
    statusEl.textContent = text || "";
    statusEl.classList.toggle("chat-error", !!isError);
  }

  function connectionStatus(text) {
    if (!unsentShown) { status(text, true); }
  }

  function formatSize(bytes) {
    if (bytes >= 1048576) { return (bytes / 1048576).toFixed(1) + " MB"; }
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function timeOf(iso) {
    var date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { throw new Error((data.error && data.error.message) || "The request failed."); }
        return data;
      });
    });
  }

  function actionButton(label, handler) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "link-button chat-action";
    button.textContent = label;
    button.addEventListener("click", handler);
    return button;
  }

  function renderAttachments(container, attachments) {
    attachments.forEach(function (a) {
      var box = document.createElement("div");
      box.className = "chat-attachment";
      if (a.kind === "image") {
        var link = document.createElement("a");
        link.href = a.url; link.target = "_blank"; link.rel = "noopener";
        var img = document.createElement("img");
        img.src = a.url; img.alt = a.name; img.loading = "lazy";
        link.appendChild(img);
        box.appendChild(link);
      } else if (a.kind === "voice" || (a.content_type || "").indexOf("audio/") === 0) {
        var audio = document.createElement("audio");
        audio.controls = true; audio.preload = "metadata"; audio.src = a.url;
        audio.setAttribute("aria-label", a.kind === "voice" ? "Voice message" : a.name);
        box.appendChild(audio);
        if (a.duration) {
          var length = document.createElement("span");
          length.className = "chat-muted";
          length.textContent = " " + Math.round(a.duration) + " s";
          box.appendChild(length);
        }
      }
      if (a.kind !== "voice") {
        var file = document.createElement("a");
        file.href = a.url; file.className = "chat-file";
        file.textContent = a.name + " (" + formatSize(a.size) + ")";
        box.appendChild(file);
      }
      container.appendChild(box);
    });
  }

  function render(m) {
    var li = document.createElement("li");
    li.className = "chat-message" + (m.sender.id === me ? " mine" : "");
    li.dataset.id = m.id;
    li.dataset.sender = m.sender.id;
    var head = document.createElement("div");
    head.className = "chat-meta";
    var who = document.createElement("strong");
    who.textContent = m.sender.name;
    var when = document.createElement("time");
    when.dateTime = m.created_at;
    when.textContent = timeOf(m.created_at);
    head.appendChild(who);
    head.appendChild(document.createTextNode(" "));
    head.appendChild(when);
    li.appendChild(head);
    var body = document.createElement("div");
    body.className = "chat-body";
    li.appendChild(body);
    fill(li, m);
    return li;
  }

  function fill(li, m) {
    var body = li.querySelector(".chat-body");
    body.textContent = "";
    var old = li.querySelector(".chat-tools");
    if (old) { old.remove(); }
    if (m.deleted) {
      li.classList.add("deleted");
      body.textContent = "This message was removed by a moderator.";
      return;
    }
    body.innerHTML = m.html;  // escaped and formatted by the server (api/chat/formatting.py)
    renderAttachments(body, m.attachments || []);
    var tools = document.createElement("div");
    tools.className = "chat-tools";
    if (m.sender.id !== me) {
      tools.appendChild(actionButton("Report", function () { report(m.id); }));
    }
    if (admin) {
      tools.appendChild(actionButton("Delete", function () { remove(m.id); }));
      if (m.sender.id !== me) {
        tools.appendChild(actionButton("Mute 1 h", function () { moderate(m.sender.id, "mute", 60); }));
        tools.appendChild(actionButton("Ban", function () { moderate(m.sender.id, "ban"); }));
      }
    }
    if (m.sender.id === me && direct) {
      var receipt = document.createElement("span");
      receipt.className = "chat-receipt";
      tools.appendChild(receipt);
    }
    li.appendChild(tools);
  }

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function add(messages, prepend) {
    var stick = nearBottom();
    var anchor = prepend ? list.firstChild : null;
    var before = log.scrollHeight;
    messages.forEach(function (m) {
      if (deleted[m.id]) { m = { id: m.id, deleted: true, sender: m.sender, created_at: m.created_at }; }
      if (seen[m.id]) { fill(seen[m.id], m); return; }
      var li = render(m);
      seen[m.id] = li;
      if (prepend) { list.insertBefore(li, anchor); } else { insertInOrder(li, m.id); }
      lastId = Math.max(lastId, m.id);
      firstId = firstId === null ? m.id : Math.min(firstId, m.id);
    });
    if (prepend) { log.scrollTop += log.scrollHeight - before; } else if (stick) { log.scrollTop = log.scrollHeight; }
    updateReceipts();
  }

  function insertInOrder(li, id) {
    var node = list.lastElementChild;
    while (node && Number(node.dataset.id) > id) { node = node.previousElementSibling; }
    list.insertBefore(li, node ? node.nextSibling : list.firstChild);
  }

  function updateReceipts() {
    if (!direct) { return; }
    var othersRead = 0;
    Object.keys(readBy).forEach(function (uid) {
      if (Number(uid) !== me) { othersRead = Math.max(othersRead, readBy[uid]); }
    });
    list.querySelectorAll(".chat-message.mine .chat-receipt").forEach(function (el) {
      var id = Number(el.closest(".chat-message").dataset.id);
      el.textContent = id <= othersRead ? "Seen" : "Sent";
      el.classList.toggle("seen", id <= othersRead);
    });
  }

  function showOnline() {
    var names = Object.keys(online).map(function (k) { return online[k]; }).filter(Boolean).sort();
    onlineEl.textContent = names.length ? "Online: " + names.join(", ") : "";
  }

  function showTyping() {
    var names = Object.keys(typers).map(function (k) { return typers[k].name; });
    typingEl.textContent = names.length ? names.join(", ") + (names.length > 1 ? " are" : " is") + " typing…" : "";
  }

  function markRead() {
    if (!direct || document.hidden || !lastId) { return; }
    socket.emit("read", { room: slug, message_id: lastId });
  }

  function report(id) {
    var reason = window.prompt("Why are you reporting this message?", "");
    if (reason === null) { return; }
    post(root.dataset.reportUrl.replace("/0/", "/" + id + "/"), { reason: reason })
      .then(function () { status("Thank you: the moderators will look at it."); })
      .catch(function (e) { status(e.message, true); });
  }

  function remove(id) {
    if (!window.confirm("Delete this message for everyone?")) { return; }
    post(root.dataset.deleteUrl.replace("/0/", "/" + id + "/"), {})
      .catch(function (e) { status(e.message, true); });
  }

  function moderate(userId, action, minutes) {
    post(root.dataset.moderateUrl, { user_id: userId, action: action, minutes: minutes })
      .then(function () { status(action === "ban" ? "The user is banned from this room." : "The user is muted for an hour."); })
      .catch(function (e) { status(e.message, true); });
  }

  // -- the connection: join (again) on every connect and ask for what was missed ---------------
  var socket = io("/chat");

  socket.on("connect", function () {
    status(unsentShown && input && input.value.trim() ? "Reconnected: you can send your message again." : "");
    unsentShown = false;
    socket.emit("join", { room: slug, after_id: lastId || undefined }, function (reply) {
      if (!reply || !reply.ok) { status((reply && reply.error) || "Could not join the room.", true); return; }
      online = {};
      (reply.online || []).forEach(function (u) { online[u.id] = u.name; });
      showOnline();
      Object.keys(reply.read || {}).forEach(function (uid) { readBy[uid] = reply.read[uid]; });
      add(reply.messages || [], false);
      if (!reply.sync) { older.hidden = !reply.more; log.scrollTop = log.scrollHeight; }
      else if (reply.more) { status("Some missed messages are older: reload to see them all."); }
      markRead();
    });
  });
  socket.on("connect_error", function (error) {
    // the server refused the connection (e.g. a logged-out session) or cannot be reached: say so, keep retrying
    var reason = error && error.message && !/^(xhr poll error|websocket error|timeout)$/.test(error.message) ? error.message : "";
    connectionStatus("Cannot connect to the chat" + (reason ? ": " + reason : ".") + " Retrying…");
  });
  socket.on("disconnect", function (reason) {
    if (reason === "io server disconnect") {  // the session ended (logged out, or the password changed elsewhere): no retry
      status("Your session has ended: log in again to chat.", true);
      return;
    }
    connectionStatus("Connection lost; reconnecting… Messages cannot be sent until it is back.");
  });

  // new messages come in batches: {room_id, room, messages: [oldest first]} (one or many)
  socket.on("messages", function (batch) {
    if (batch.room_id !== roomId) { return; }
    add(batch.messages, false);
    var others = batch.messages.filter(function (m) { return m.sender.id !== me; });
    if (others.length) {
      others.forEach(function (m) { delete typers[m.sender.id]; });
      showTyping();
      markRead();
    }
  });
  socket.on("message_deleted", function (d) {
    deleted[d.id] = true;  // it may still be on its way in a batch
    if (seen[d.id]) { fill(seen[d.id], { id: d.id, deleted: true, sender: { id: 0 } }); }
  });
  socket.on("presence", function (p) {
    if (p.room_id !== roomId) { return; }
    if (p.online) { online[p.user.id] = p.user.name; } else { delete online[p.user.id]; }
    showOnline();
  });
  socket.on("typing", function (t) {
    if (t.room !== slug || t.user.id === me) { return; }
    if (typers[t.user.id]) { clearTimeout(typers[t.user.id].timer); }
    if (t.typing) {
      typers[t.user.id] = { name: t.user.name, timer: setTimeout(function () { delete typers[t.user.id]; showTyping(); }, 4000) };
    } else { delete typers[t.user.id]; }
    showTyping();
  });
  socket.on("read", function (r) {
    if (r.room !== slug) { return; }
    readBy[r.user_id] = Math.max(readBy[r.user_id] || 0, r.message_id);
    updateReceipts();
  });
  socket.on("unread", function (u) {
    if (!badge) { return; }
    badge.textContent = u.total;
    badge.hidden = !u.total;
  });
  socket.on("mention", function (m) {
    if (m.room !== slug) { status(m.from.name + " mentioned you in another room."); }
  });
  socket.on("moderation", function (m) {
    if (m.room !== slug) { return; }
    if (m.action === "ban") { status("You have been banned from this room.", true); if (form) { form.hidden = true; } }
    if (m.action === "mute") { status("A moderator muted you in this room for a while.", true); }
  });
  document.addEventListener("visibilitychange", markRead);

  older.addEventListener("click", function () {
    fetch(root.dataset.historyUrl + "?before=" + firstId, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) { add((data.messages || []).slice().reverse(), true); older.hidden = !data.more; })
      .catch(function () { status("Could not load older messages.", true); });
  });

  if (!form) { return; }

  // -- sending ----------------------------------------------------------------------------------
  var typingSentAt = 0;
  input.addEventListener("input", function () {
    var now = Date.now();
    if (now - typingSentAt > 2000 && input.value.trim()) {
      typingSentAt = now;
      socket.emit("typing", { room: slug, typing: true });
    }
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  // a refused or unanswered message is never dropped silently: its text goes back into the box with the reason
  function notSent(body, reason) {
    if (body !== null) { input.value = input.value ? body + "\n" + input.value : body; }
    status("Not sent: " + reason, true);
    unsentShown = !socket.connected;
    input.focus();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = input.value.trim();
    if (!body) { return; }
    if (!socket.connected) {  // an emit now would wait in the client's buffer, maybe for ever
      notSent(null, "the chat is not connected. Your message is still in the box; send it again once it reconnects.");
      return;
    }
    var clientId = "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
    input.value = "";
    typingSentAt = 0;
    socket.timeout(15000).emit("send", { room: slug, body: body, client_id: clientId }, function (error, reply) {
      if (error) { notSent(body, "the chat server did not answer; try again."); return; }
      if (!reply || !reply.ok) { notSent(body, (reply && reply.error) || "the server refused the message."); return; }
      status("");
      unsentShown = false;
      add([reply.message], false);
    });
  });

  function upload(blob, name, extra) {
    var data = new FormData();
    data.append("file", blob, name);
    data.append("client_id", "u" + Date.now().toString(36));
    Object.keys(extra || {}).forEach(function (k) { data.append(k, extra[k]); });
    status("Uploading " + name + "…");
    return fetch(root.dataset.uploadUrl, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Accept": "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (reply) {
        if (!response.ok) { throw new Error((reply.error && reply.error.message) || "The upload failed."); }
        status("");
        add([reply.message], false);
      });
    }).catch(function (e) { status(e.message, true); });
  }

  if (fileInput) {
    fileInput.addEventListener("change", function () {
      var file = fileInput.files[0];
      if (file) { upload(file, file.name).then(function () { fileInput.value = ""; }); }
    });
  }

  // -- voice messages: MediaRecorder, WebM/Opus (or Ogg), stopped at the length limit -------------
  if (recordButton) {
    var recorder = null;
    var chunks = [];
    var startedAt = 0;
    var ticker = null;
    var limitTimer = null;
    var mime = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm"].filter(function (t) {
      return window.MediaRecorder && MediaRecorder.isTypeSupported(t);
    })[0];
    if (!window.MediaRecorder || !navigator.mediaDevices || !mime) {
      recordButton.disabled = true;
      recordButton.title = "This browser cannot record audio.";
    }
    var stopRecording = function () {
      if (recorder && recorder.state === "recording") { recorder.stop(); }
    };
    recordButton.addEventListener("click", function () {
      if (recorder && recorder.state === "recording") { stopRecording(); return; }
      navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
        chunks = [];
        recorder = new MediaRecorder(stream, { mimeType: mime });
        recorder.ondataavailable = function (e) { if (e.data && e.data.size) { chunks.push(e.data); } };
        recorder.onstop = function () {
          clearInterval(ticker); clearTimeout(limitTimer);
          stream.getTracks().forEach(function (t) { t.stop(); });
          recordButton.textContent = "Record voice";
          recordButton.setAttribute("aria-pressed", "false");
          var seconds = Math.min(maxVoice, (Date.now() - startedAt) / 1000);
          var type = mime.split(";")[0];
          var blob = new Blob(chunks, { type: type });
          upload(blob, "voice-message." + (type === "audio/ogg" ? "ogg" : "webm"),
                 { voice: "1", duration: seconds.toFixed(1) });
        };
        recorder.start(250);
        startedAt = Date.now();
        recordButton.setAttribute("aria-pressed", "true");
        recordButton.textContent = "Stop and send (0 s)";
        ticker = setInterval(function () {
          recordButton.textContent = "Stop and send (" + Math.round((Date.now() - startedAt) / 1000) + " s)";
        }, 500);
        limitTimer = setTimeout(stopRecording, maxVoice * 1000);
      }).catch(function () { status("The microphone is not available.", true); });
    });
  }
})();
