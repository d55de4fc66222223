/* Window panel: every action of the queue core, with keyboard shortcuts; live through the window's rooms. */
(function () {
  "use strict";
  const main = document.querySelector("main.panel");
  if (!main) return;
  const windowId = main.dataset.window;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  let state = null;        // the window as the server last described it
  let refreshTimer = null;
  let epoch = 0;           // bumped by every action, so a refresh that overlapped one cannot paint older state

  async function api(method, path, body) {
    const r = await fetch("/api/v1" + path, {
      method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await r.json().catch(() => ({error: {message: "服务器无响应 / no response"}}));
    if (r.status === 401) { location.href = "/staff/login?next=" + encodeURIComponent(location.pathname + location.search); }
    if (!r.ok) throw new Error(data.error ? data.error.message : r.statusText);
    return data;
  }

  function say(text, isError) {
    const m = $("message");
    m.textContent = text || "";
    m.className = "message" + (isError ? " error" : "");
  }

  function render(w) {
    state = w;
    const st = $("window-status");
    st.textContent = w.status_label + (w.pause_reason ? "（" + w.pause_reason + "）" : "");
    st.className = "status " + w.status;
    const cur = w.current;
    $("current-number").textContent = cur ? cur.number : "—";
    $("current-meta").textContent = cur ? `${cur.queue_name} · ${statusZh(cur.status)} · ${priorityZh(cur.priority)}` +
      (cur.recalls ? ` · 已重呼 ${cur.recalls} 次` : "") : "无当前号码 / no current ticket";
    const link = $("intake-link");
    link.hidden = !cur;
    if (cur) link.href = "/staff/cases/intake?ticket=" + cur.id;
    const can = {
      "call-next": w.status !== "paused" && w.status !== "closed_for_day" && (!cur || cur.status === "serving"),
      "recall": !!cur && cur.status === "called",
      "start": !!cur && cur.status === "called",
      "finish": !!cur && cur.status === "serving",
      "no-show": !!cur && cur.status === "called",
      "hold": !!cur,
      "transfer": !!cur,
      "pause": w.status === "open" && (!cur || cur.status !== "called"),
      "resume": w.status === "paused",
      "request-evaluation": !cur,
      "close": !cur && w.status !== "closed_for_day",
    };
    document.querySelectorAll("#actions button").forEach((b) => { b.disabled = !can[b.dataset.action]; });
  }

  function statusZh(s) {
    return {waiting: "等候中", called: "已叫号", serving: "办理中", held: "已挂起"}[s] || s;
  }
  function priorityZh(p) {
    return {normal: "普通", elderly: "老年人优先", legal: "依法优先", appointment: "预约", green: "绿色通道"}[p] || p;
  }

  function tickElapsed() {
    const cur = state && state.current;
    if (!cur || !cur.called_at) { $("elapsed").textContent = ""; return; }
    const s = Math.max(0, Math.floor((Date.now() - Date.parse(cur.called_at)) / 1000));
    $("elapsed").textContent = `已用时 / elapsed ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  async function refresh() {
    const started = epoch;
    const [ws, waiting, held] = await Promise.all([
      api("GET", "/windows"), api("GET", `/windows/${windowId}/waiting?limit=6`), api("GET", `/windows/${windowId}/held`),
    ]);
    if (started !== epoch) { scheduleRefresh(); return; }  // an action answered meanwhile: ask again
    render(ws.windows.find((w) => w.window_id === windowId));
    $("waiting").innerHTML = waiting.queues.map((q) =>
      `<h4>${esc(q.name)} <small>(${q.waiting} 人等候, 权重 ${q.weight})</small></h4><table>` +
      q.next.map((t) => `<tr><td><button class="call-chosen" data-id="${t.id}" title="叫这个号 / call this ticket">${esc(t.number)}</button></td>` +
        `<td>${priorityZh(t.priority)}</td><td>${t.waited_min} 分钟</td></tr>`).join("") + "</table>").join("");
    $("held").innerHTML = held.tickets.map((t) =>
      `<li>${esc(t.number)} <button class="call-back" data-id="${t.id}">回呼 / call back</button></li>`).join("") || "<li>—</li>";
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => refresh().catch((e) => say(e.message, true)), 80);
  }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  }

  async function act(action, extra) {
    try {
      if (action === "transfer") return openTransfer();
      if (action === "pause") extra = {reason: prompt("暂停原因 / reason (可空)") || null};
      if (action === "close" && !confirm("今日停止服务？/ Close the window for the day?")) return;
      const path = action === "request-evaluation" ? `/windows/${windowId}/request-evaluation` : `/windows/${windowId}/${action}`;
      epoch++;
      const r = await api("POST", path, extra || {});
      epoch++;
      if (r.window_id) render(r);
      say(r.message || (r.ticket ? `${r.ticket.number} · ${statusZh(r.ticket.status) || r.ticket.status}` :
        action === "request-evaluation" ? "已请求评价 / evaluation requested" : "OK"));
      scheduleRefresh();
    } catch (e) { say(e.message, true); }
  }

  function openTransfer() {
    const dlg = $("transfer-dialog");
    dlg.returnValue = "";
    dlg.showModal();
    dlg.onclose = async () => {
      if (dlg.returnValue !== "ok") return;
      const f = new FormData($("transfer-form"));
      const body = {position: f.get("position")};
      if (f.get("to_queue")) body.to_queue = f.get("to_queue");
      if (f.get("to_window")) body.to_window = f.get("to_window");
      try {
        await api("POST", `/windows/${windowId}/transfer`, body);
        say("已转出 / transferred");
        scheduleRefresh();
      } catch (e) { say(e.message, true); }
    };
  }

  document.querySelectorAll("#actions button").forEach((b) => b.addEventListener("click", () => act(b.dataset.action)));
  document.addEventListener("keydown", (ev) => {
    const b = document.querySelector(`#actions button[data-key="${ev.key}"]`);
    if (!b) return;
    ev.preventDefault();
    if (!b.disabled) act(b.dataset.action);
  });
  document.addEventListener("click", (ev) => {
    const t = ev.target;
    if (t.classList.contains("call-chosen")) act("call", {ticket_id: Number(t.dataset.id)});
    if (t.classList.contains("call-back")) act("call-back", {ticket_id: Number(t.dataset.id)});
  });
  $("window-select").addEventListener("change", (ev) => { location.search = "?window=" + ev.target.value; });
  $("logout").addEventListener("click", async () => { await api("POST", "/auth/logout", {}); location.href = "/staff/login"; });

  async function deviceStatus() {
    try {
      const r = await api("GET", "/stations");
      const agent = r.devices.find((d) => d.device === "agent" && d.detail && d.detail.window_id === windowId);
      if (!agent) { $("device-status").innerHTML = '<span class="bad">窗口设备未连接 / no device agent</span>'; return; }
      const mine = r.devices.filter((d) => d.station === agent.station && (d.device === "led" || d.device === "evaluator"));
      const label = {led: "窗口屏", evaluator: "评价器"};
      $("device-status").innerHTML = (agent.status !== "ok" ? '<span class="bad">设备代理离线 / agent offline</span> ' : "") +
        mine.map((d) => `<span class="${d.status === "ok" ? "" : "bad"}">${label[d.device]}: ${d.status === "ok" ? "正常" : "异常 " + esc(d.status)}</span>`).join(" ");
    } catch (e) { /* the status line is a hint; the panel keeps working */ }
  }

  // The CSRF token at connect lets this socket act for the logged-in clerk (a page of another origin cannot
  // read it); the staff room carries the stations' device health.
  const socket = io({transports: ["websocket", "polling"], auth: {csrf_token: csrf}});
  socket.on("connect", () => {
    socket.emit("subscribe", {hall: false, staff: true, windows: [windowId], queues: [...new Set(Array.from(document.querySelectorAll("#waiting h4")).map(() => null))].filter(Boolean)}, () => scheduleRefresh());
    say("");
  });
  socket.on("disconnect", () => say("连接中断，正在重连… / reconnecting…", true));
  ["ticket_issued", "queue_stats", "window_state", "ticket_called", "ticket_transferred", "ticket_requeued"].forEach((ev) => socket.on(ev, scheduleRefresh));
  socket.on("device_health", deviceStatus);

  refresh().catch((e) => say(e.message, true));
  deviceStatus();
  setInterval(tickElapsed, 1000);
  setInterval(deviceStatus, 15000);
})();
