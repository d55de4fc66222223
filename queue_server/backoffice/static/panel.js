/* Window panel: every action of the queue core, with keyboard shortcuts; live through the window's rooms. */
(function () {
  "use strict";
  const main = document.querySelector("main.panel");
  if (!main) return;
  const windowId = main.dataset.window;
  const issuanceQueue = main.dataset.issuanceQueue;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  let state = null;        // the window as the server last described it
  let refreshTimer = null;
  let epoch = 0;           // bumped by every action, so a refresh that overlapped one cannot paint older state

  let online = false;      // the live connection is up; while it is down the panel says so and offers no action
  const api = (method, path, body) => window.Staff.api(method, path, body).catch((e) => {
    if (e.offline) setOffline(true);
    throw e;
  });

  function say(text, isError) {
    const m = $("message");
    m.textContent = text || "";
    m.className = "msg" + (isError ? " error" : "");
  }

  /** An outage must be impossible to miss: grey status, devices unknown, a red banner, no actions. */
  function setOffline(off) {
    online = !off;
    $("offline").hidden = !off;
    main.classList.toggle("offline", off);
    if (off) {
      const st = $("window-status");
      st.textContent = "连接中断 · 状态未知";
      st.className = "status offline";
      $("device-status").innerHTML = '<span class="unknown">设备状态未知</span>';
      document.querySelectorAll("#actions button").forEach((b) => { b.disabled = true; });
      $("intake-link").hidden = true;
    } else if (state) {
      render(state);
    }
  }

  function render(w) {
    state = w;
    const st = $("window-status");
    st.textContent = w.status_label + (w.pause_reason ? "（" + w.pause_reason + "）" : "");
    st.className = "status " + w.status;
    const cur = w.current;
    $("current-number").textContent = cur ? cur.number : "—";
    $("current-meta").textContent = cur ? `${cur.queue_name} · ${statusZh(cur.status)} · ${priorityZh(cur.priority)}` +
      (cur.called_at ? ` · ${window.Staff.time(cur.called_at, true)} 叫号` : "") +
      (cur.recalls ? ` · 已重呼 ${cur.recalls} 次` : "") : "无当前号码";
    const link = $("intake-link");
    link.hidden = !cur || !online;
    if (cur) {
      // One link for the current ticket: the server opens the case to hand over (pick-up ticket), the case already
      // taken, or intake carrying this ticket, its window and its item.
      link.href = `/staff/cases/for-ticket/${cur.id}?window_id=${encodeURIComponent(windowId)}`;
      link.firstChild.textContent = cur.queue_id === issuanceQueue ? "出件：打开待领取的办件 " : "为当前号码收件 ";
    }
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
    document.querySelectorAll("#actions button").forEach((b) => { b.disabled = !online || !can[b.dataset.action]; });
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
    $("elapsed").textContent = `已用时 ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
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
      q.next.map((t) => `<tr><td><button class="call-chosen" data-id="${t.id}" title="叫这个号">${esc(t.number)}</button></td>` +
        `<td>${priorityZh(t.priority)}</td><td>${t.waited_min} 分钟</td></tr>`).join("") + "</table>").join("");
    $("held").innerHTML = held.tickets.map((t) =>
      `<li>${esc(t.number)} <button class="call-back" data-id="${t.id}">回呼</button></li>`).join("") || "<li>—</li>";
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    // A background refresh that finds the server gone leaves the message line alone: the red banner already says
    // so, and the line may hold what the clerk's last key did ("连接中断，「叫号」未执行").
    refreshTimer = setTimeout(() => refresh().catch((e) => { if (!e.offline) say(e.message, true); }), 80);
  }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  }

  async function act(action, extra) {
    try {
      if (action === "transfer") return openTransfer();
      if (action === "pause") {
        const v = await window.Staff.form({title: "暂停服务", ok: "暂停", fields: [{name: "reason", label: "暂停原因（可空）",
          type: "select", options: [["", "—"], ["临时离开", "临时离开"], ["业务咨询", "业务咨询"], ["系统故障", "系统故障"], ["会议", "会议"]]}]});
        if (!v) return;
        extra = {reason: v.reason || null};
      }
      if (action === "close" && !(await window.Staff.confirm("下班", "今日停止本窗口的服务？", "下班", true))) return;
      const path = action === "request-evaluation" ? `/windows/${windowId}/request-evaluation` : `/windows/${windowId}/${action}`;
      epoch++;
      const r = await api("POST", path, extra || {});
      epoch++;
      if (r.window_id) render(r);
      say(r.message || (r.ticket ? `${r.ticket.number} · ${statusZh(r.ticket.status) || r.ticket.status}` :
        action === "request-evaluation" ? "已请求评价" : "已完成"));
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
        say("已转出");
        scheduleRefresh();
      } catch (e) { say(e.message, true); }
    };
  }

  document.querySelectorAll("#actions button").forEach((b) => b.addEventListener("click", () => act(b.dataset.action)));
  document.addEventListener("keydown", (ev) => {
    if (document.querySelector("dialog[open]")) return;  // a dialog owns the keyboard (Enter / Esc)
    if (ev.key === "F11" && !$("intake-link").hidden) { ev.preventDefault(); location.href = $("intake-link").href; return; }
    const b = document.querySelector(`#actions button[data-key="${ev.key}"]`);
    if (!b) return;
    ev.preventDefault();
    if (!b.disabled) { act(b.dataset.action); return; }
    // A key that does nothing must say why, or a clerk presses F1 during a blip and believes the number was called.
    const name = b.firstChild.textContent.trim();
    say(online ? `「${name}」现在不可用（当前号码或窗口状态不允许）` : `连接中断，「${name}」未执行；连接恢复后请再按一次`, true);
  });
  document.addEventListener("click", (ev) => {
    const t = ev.target;
    if (t.classList.contains("call-chosen")) act("call", {ticket_id: Number(t.dataset.id)});
    if (t.classList.contains("call-back")) act("call-back", {ticket_id: Number(t.dataset.id)});
  });
  $("window-select").addEventListener("change", (ev) => { location.search = "?window=" + ev.target.value; });

  async function deviceStatus() {
    try {
      const r = await api("GET", "/stations");
      const agent = r.devices.find((d) => d.device === "agent" && d.detail && d.detail.window_id === windowId);
      if (!online) return;
      if (!agent) { $("device-status").innerHTML = '<span class="bad">窗口设备未连接</span>'; return; }
      const mine = r.devices.filter((d) => d.station === agent.station && (d.device === "led" || d.device === "evaluator"));
      const label = {led: "窗口屏", evaluator: "评价器"};
      $("device-status").innerHTML = (agent.status !== "ok" ? '<span class="bad">设备代理离线</span> ' : "") +
        mine.map((d) => `<span class="${d.status === "ok" ? "" : "bad"}">${label[d.device]}: ${d.status === "ok" ? "正常" : "异常 " + esc(d.status)}</span>`).join(" ");
    } catch (e) { /* the status line is a hint; the panel keeps working */ }
  }

  // The CSRF token at connect lets this socket act for the logged-in clerk (a page of another origin cannot
  // read it); the staff room carries the stations' device health.
  const socket = io({transports: ["websocket", "polling"], auth: {csrf_token: csrf}});
  socket.on("connect", () => {
    setOffline(false);
    deviceStatus();
    socket.emit("subscribe", {hall: false, staff: true, windows: [windowId], queues: [...new Set(Array.from(document.querySelectorAll("#waiting h4")).map(() => null))].filter(Boolean)}, () => scheduleRefresh());
    say("");
  });
  socket.on("disconnect", () => setOffline(true));
  socket.on("connect_error", () => setOffline(true));
  ["ticket_issued", "queue_stats", "window_state", "ticket_called", "ticket_transferred", "ticket_requeued"].forEach((ev) => socket.on(ev, scheduleRefresh));
  socket.on("device_health", deviceStatus);

  refresh().catch((e) => say(e.message, true));
  deviceStatus();
  setInterval(tickElapsed, 1000);
  setInterval(deviceStatus, 15000);
})();
