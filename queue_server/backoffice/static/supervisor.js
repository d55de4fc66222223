/* The supervisor's and technician's pages: one small script; each page keeps live over Socket.IO by
   re-reading its data when an event that matters arrives (and after every reconnect). No polling. */
(function () {
  "use strict";
  const page = document.body.dataset.page;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (s, el) => (el || document).querySelector(s);
  const esc = (v) => String(v == null ? "" : v).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const fmtTime = (iso) => iso ? new Date(iso).toLocaleString("zh-CN", {timeZone: "Asia/Shanghai", hour12: false, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit"}) : "";
  const mmss = (s) => s == null ? "—" : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  window.__sv = {events: []};

  async function getJSON(url) {
    const r = await fetch(url, {credentials: "same-origin"});
    const body = await r.json();
    if (!r.ok) throw new Error((body.error && body.error.message) || r.status);
    return body;
  }
  async function post(url, data) {
    const r = await fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, body: JSON.stringify(data || {})});
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error((body.error && body.error.message) || `HTTP ${r.status}`);
    return body;
  }
  document.querySelectorAll(".t[data-t]").forEach((el) => { el.textContent = fmtTime(el.dataset.t); });

  // ------------------------------------------------------------------ live connection
  function live(events, load, wantStaff) {
    let timer = null;
    // A read that fails (the server restarting) waits for the next event or reconnect instead of throwing.
    const refresh = () => Promise.resolve().then(load).catch(() => { $("#live-state").textContent = "刷新失败，等待重连…"; });
    // Coalesce bursts (a busy hall sends many events a second): at most four reads a second per page.
    const schedule = () => { if (!timer) timer = setTimeout(() => { timer = null; refresh(); }, 250); };
    const socket = io({transports: ["websocket", "polling"]});
    socket.on("connect", () => {
      socket.emit("subscribe", {hall: true, staff: wantStaff}, (reply) => {
        if (reply && reply.ok) { document.body.dataset.live = "live"; $("#live-state").textContent = "实时"; }
        else { $("#live-state").textContent = "订阅失败"; }
        refresh();
      });
    });
    socket.on("disconnect", () => { document.body.dataset.live = "offline"; $("#live-state").textContent = "连接中断，重连中…"; });
    events.forEach((ev) => socket.on(ev, (p) => { window.__sv.events.push(ev); schedule(); if (ev === "alert_raised") chime(p); }));
    return socket;
  }
  let soundOn = localStorage.getItem("sv-sound") === "1";
  function chime(alert) {
    if (!soundOn || !alert) return;
    try {
      const ac = new (window.AudioContext || window.webkitAudioContext)();
      const o = ac.createOscillator(); const g = ac.createGain();
      o.frequency.value = alert.level === "critical" ? 880 : 660; o.connect(g); g.connect(ac.destination);
      g.gain.value = 0.2; o.start(); o.stop(ac.currentTime + 0.4);
    } catch (e) { /* no audio device: the list still shows it */ }
  }

  // ------------------------------------------------------------------ acknowledge dialog
  function ackDialog(message, send) {
    const dlg = $("#ack-dialog");
    $("#ack-message").textContent = message; $("#ack-note").value = ""; $("#ack-error").hidden = true;
    dlg.showModal();
    $("#ack-cancel").onclick = () => dlg.close();
    $("#ack-form").onsubmit = async (e) => {
      e.preventDefault();
      const note = $("#ack-note").value.trim();
      if (!note) { $("#ack-error").textContent = "请填写处理说明 / a note is required"; $("#ack-error").hidden = false; return; }
      try { await send(note); dlg.close(); } catch (err) { $("#ack-error").textContent = err.message; $("#ack-error").hidden = false; }
    };
  }
  function renderAlerts(list) {
    const box = $("#alerts");
    if (!list.length) { box.innerHTML = '<p class="sv-note">无未解除告警 / no open alerts</p>'; return; }
    box.innerHTML = list.map((a) => `<div class="alert ${a.level}${a.acknowledged_at ? " acked" : ""}" data-id="${a.id}" data-kind="${a.kind}">
      ${a.acknowledged_at ? `<span class="ack-by">已确认 ${esc(a.acknowledged_by)}</span>` : `<button data-ack="${a.id}">确认</button>`}
      <strong>${esc(a.kind_label)}</strong> ${esc(a.message)}<div class="when">${fmtTime(a.raised_at)}${a.ack_note ? " · " + esc(a.ack_note) : ""}</div></div>`).join("");
    box.querySelectorAll("[data-ack]").forEach((b) => b.onclick = () => {
      const a = list.find((x) => String(x.id) === b.dataset.ack);
      ackDialog(a.message, (note) => post(`/staff/alerts/${a.id}/ack`, {note}));
    });
  }

  // ------------------------------------------------------------------ pages
  const pages = {};
  pages.overview = () => {
    const snd = $("#sound"); snd.checked = soundOn;
    snd.onchange = () => { soundOn = snd.checked; localStorage.setItem("sv-sound", soundOn ? "1" : "0"); };
    async function refresh() {
      const d = await getJSON("/staff/overview/data");
      const label = {open: "服务中", paused: "暂停", closed: "未开", closed_for_day: "已下班"};
      $("#windows").innerHTML = d.windows.map((w) => `<div class="tile ${w.status}" id="tile-${w.window_id}" data-status="${w.status}">
        <span class="st">${label[w.status] || w.status}</span><h3 title="${esc(w.name)}">${esc(w.name)}</h3>
        <div class="cur">${w.current ? esc(w.current.number) : "—"}</div>
        <div class="meta">${[w.staff ? esc(w.staff) : "无人在岗", w.current ? "已用时 " + mmss(w.current.elapsed_s) : (w.pause_reason ? esc(w.pause_reason) : "")].filter(Boolean).join(" · ")}</div>
        <div class="meta">今日办结 ${w.served_today} · 评价 ${w.rating_avg == null ? "—" : w.rating_avg + "（" + w.ratings + "）"}</div></div>`).join("");
      $("#queues tbody").innerHTML = d.queues.map((q) => `<tr data-queue="${q.queue_id}"><td>${esc(q.name)}</td><td>${q.waiting}</td>
        <td>${mmss(q.longest_wait_s)}</td><td>${q.estimated_wait_min == null ? "—" : q.estimated_wait_min + " 分"}</td>
        <td>${q.issued}${q.cap ? " / " + q.cap : ""}</td></tr>`).join("");
      $("#stations").innerHTML = d.stations.length ? d.stations.map((s) => `<span class="station-mark" data-station="${esc(s.station)}">● ${esc(s.station)}：${esc(s.problems.join("，"))}</span>`).join("") : '<p class="sv-note">全部正常</p>';
      renderAlerts(d.alerts);
    }
    live(["window_state", "queue_stats", "ticket_called", "ticket_started", "ticket_finished", "ticket_issued",
      "ticket_no_show", "device_health", "evaluation_recorded", "alert_raised", "alert_closed", "alert_acknowledged",
      "day_rolled_over"], refresh, true);
  };
  pages.alerts = () => {
    async function refresh() {
      const d = await getJSON("/staff/alerts/data");
      $("#alert-log tbody").innerHTML = d.alerts.map((a) => `<tr data-id="${a.id}" class="lvl-${a.level}"><td>${fmtTime(a.raised_at)}</td>
        <td>${esc(a.kind_label)}</td><td>${a.level === "critical" ? "严重" : "提醒"}</td><td>${esc(a.subject)}</td><td>${esc(a.message)}</td>
        <td>${fmtTime(a.closed_at)}</td><td>${esc(a.acknowledged_by || "")}</td><td>${esc(a.ack_note || "")}</td></tr>`).join("");
    }
    live(["alert_raised", "alert_closed", "alert_acknowledged"], refresh, true);
  };
  pages.devices = () => {
    async function refresh() {
      const d = await getJSON("/staff/devices/data");
      const st = {ok: "正常", warning: "注意", error: "故障", offline: "离线", unknown: "未知"};
      const paper = {ok: "纸量正常", low: "纸将用尽", out: "缺纸"};
      const stateZh = {paper_out: "缺纸", paper_near_end: "纸将用尽", cover_open: "上盖打开", cutter_error: "切刀故障", offline: "离线", unknown: "无响应"};
      d.stations.sort((a, b) => a.station.localeCompare(b.station, "zh", {numeric: true}));
      $("#stations").innerHTML = d.stations.map((s) => `<div class="station ${s.connected ? "" : "offline"}" id="station-${esc(s.station)}" data-connected="${s.connected}">
        <h3>${esc(s.station)} <small>${esc(s.description || "")}</small> <span class="${s.connected ? "dev-ok" : "dev-offline"}">${s.connected ? "已连接" : "离线"}</span></h3>
        <div class="sv-note">最后联系 ${fmtTime(s.last_seen) || "从未"} · 代理版本 ${esc(s.agent_version || "—")}${s.window_id ? " · 窗口 " + esc(s.window_id) : ""}</div>
        <table class="sv-table"><tbody>${s.devices.map((v) => `<tr data-device="${v.device}" data-status="${v.status}" data-paper="${v.paper || ""}">
          <td>${esc(v.device)}</td><td class="dev-${v.status}">${st[v.status] || v.status}${v.paper ? " · " + paper[v.paper] : ""}${v.cover_open ? " · 上盖打开" : ""}</td>
          <td class="sv-note">${fmtTime(v.last_seen)}${v.last_error ? " · " + esc(stateZh[v.last_error] || v.last_error) : ""}</td>
          <td class="sv-note">${v.last_command ? esc(v.last_command.command) + " " + (v.last_command.ok == null ? "等待结果" : (v.last_command.ok ? "成功" : "失败 " + esc(v.last_command.error || ""))) : ""}</td>
          <td>${v.device === "printer" || v.device === "led" ? `<button data-test="${v.device}" data-station="${esc(s.station)}">${v.device === "printer" ? "测试打印" : "测试屏幕"}</button>` : ""}</td></tr>`).join("")}</tbody></table></div>`).join("");
      document.querySelectorAll("[data-test]").forEach((b) => b.onclick = async () => {
        b.disabled = true;
        try { await post(`/staff/devices/${b.dataset.station}/test`, {device: b.dataset.test}); } catch (e) { alertLine(e.message); }
        b.disabled = false;
      });
      $("#kiosk-alerts tbody").innerHTML = d.kiosk_alerts.map((a) => `<tr data-seq="${a.seq}"><td>${fmtTime(a.at)}</td><td>${esc(a.station)}</td><td>${esc(a.message)}</td>
        <td>${a.ack ? "已确认 " + esc(a.ack.by) + "：" + esc(a.ack.note) : `<button data-kack="${a.seq}">确认</button>`}</td></tr>`).join("");
      document.querySelectorAll("[data-kack]").forEach((b) => b.onclick = () => ackDialog("自助机告警", (note) => post("/staff/devices/kiosk-alerts/ack", {seq: Number(b.dataset.kack), note}).then(refresh)));
      $("#faults tbody").innerHTML = d.faults.map((f) => `<tr><td>${fmtTime(f.at)}</td><td>${esc(f.station)}</td><td>${esc(f.device)}</td><td class="dev-${f.status}">${st[f.status] || f.status}</td><td>${esc(stateZh[f.detail] || f.detail)}</td></tr>`).join("");
    }
    function alertLine(msg) { $("#live-state").textContent = msg; }
    live(["device_health", "device_command", "command_result", "kiosk_alert", "alert_acknowledged"], refresh, true);
  };
  pages.reports = () => {
    const form = $("#report-form");
    const sync = () => form.classList.toggle("ranged", $("#period").value === "range");
    $("#period").onchange = sync; sync();
    const params = () => new URLSearchParams(new FormData(form)).toString();
    const charts = [];
    async function run(e) {
      if (e) e.preventDefault();
      $("#report-error").hidden = true;
      let d;
      try { d = await getJSON("/staff/reports/data?" + params()); } catch (err) { $("#report-error").textContent = err.message; $("#report-error").hidden = false; return; }
      $("#xlsx-all").href = "/staff/reports/export?format=xlsx&" + params();
      charts.splice(0).forEach((c) => c.dispose());
      $("#report").innerHTML = d.tables.map((t) => `<section class="report-block sv-card" data-table="${t.id}">
        <h2>${esc(t.title)}<span class="exports"><a href="/staff/reports/export?format=csv&table=${t.id}&${params()}">CSV</a><a href="/staff/reports/export?format=xlsx&table=${t.id}&${params()}">XLSX</a></span></h2>
        <div class="chart" id="chart-${t.id}"></div>
        <table class="sv-table"><thead><tr>${t.columns.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead>
        <tbody>${t.rows.map((r) => `<tr>${r.map((v) => `<td>${v == null ? "—" : esc(v)}</td>`).join("")}</tr>`).join("")}</tbody></table></section>`).join("");
      d.tables.forEach((t) => { const c = chartFor(t); if (c) charts.push(c); });
      window.__sv.report = d;
    }
    function chartFor(t) {
      const el = $("#chart-" + t.id);
      if (!window.echarts || !t.rows.length) { el.remove(); return null; }
      const c = echarts.init(el);
      const names = t.rows.map((r) => String(r[0]));
      let option;
      if (t.id === "arrivals") {
        const data = []; let max = 1;
        t.rows.forEach((r, y) => r.slice(1).forEach((v, x) => { data.push([x, y, v]); max = Math.max(max, v); }));
        option = {tooltip: {}, xAxis: {type: "category", data: t.columns.slice(1)}, yAxis: {type: "category", data: names},
          visualMap: {min: 0, max, orient: "horizontal", left: "center", bottom: 0, calculable: true},
          grid: {bottom: 70}, series: [{type: "heatmap", data}]};
      } else if (t.id === "daily") {
        option = {tooltip: {trigger: "axis"}, legend: {}, xAxis: {type: "category", data: names}, yAxis: {type: "value"},
          series: [{name: "取号", type: "line", data: t.rows.map((r) => r[1])}, {name: "办结", type: "line", data: t.rows.map((r) => r[2])}]};
      } else {
        const cols = {tickets: [1, 2, 3], ontime: [1, 2], ratings: [1, 8], appointments: [0, 1]}[t.id] || [1];
        option = {tooltip: {trigger: "axis"}, legend: {}, xAxis: {type: "category", data: names, axisLabel: {interval: 0, rotate: names.length > 8 ? 30 : 0}},
          yAxis: {type: "value"}, series: cols.map((i) => ({name: t.columns[i], type: "bar", data: t.rows.map((r) => r[i])}))};
      }
      c.setOption(option);
      return c;
    }
    form.onsubmit = run; run();
    live(["day_rolled_over"], () => {}, false);
  };
  pages.assessment = () => { document.body.dataset.live = "live"; $("#live-state").hidden = true; };  // printable, static
  pages.admin = () => {
    const cfg = JSON.parse($("#admin-config").textContent);
    const err = (m) => { $("#admin-error").textContent = m; $("#admin-error").hidden = !m; };
    const once = (who, pw) => { const p = $("#password-once"); p.hidden = false; p.textContent = `${who} 的初始密码（仅显示一次，请当面告知）：${pw}`; p.dataset.password = pw; };
    async function refresh() {
      const d = await getJSON("/staff/admin/data");
      $("#users tbody").innerHTML = d.users.map((u) => `<tr data-user="${esc(u.username)}"><td>${esc(u.username)}</td><td>${esc(u.display_name)}</td>
        <td>${cfg.roles.map(([r, zh]) => `<label><input type="checkbox" data-role="${r}" ${u.roles.includes(r) ? "checked" : ""}>${zh}</label>`).join(" ")}</td>
        <td><input data-windows value="${esc(u.windows.join(","))}" size="10"></td>
        <td><input data-departments value="${esc(u.departments.join(","))}" size="12"></td>
        <td class="state">${u.disabled ? "已停用" : "正常"}${u.locked ? " · 已锁定" : ""}</td>
        <td><button data-act="save">保存角色</button> <button data-act="${u.disabled ? "enable" : "disable"}">${u.disabled ? "启用" : "停用"}</button>
          ${u.locked ? '<button data-act="unlock">解锁</button>' : ""} <button data-act="reset_password">重置密码</button></td></tr>`).join("");
      const acts = {add: "新增", disable: "停用", enable: "启用", unlock: "解锁", reset_password: "重置密码", assign: "设置角色", revoke_tokens: "吊销令牌"};
      $("#audit tbody").innerHTML = d.audit.map((a) => `<tr><td>${fmtTime(a.at)}</td><td>${esc(a.actor)}</td><td>${esc(acts[a.action] || a.action)}</td><td>${esc(a.target)}</td><td>${esc(a.detail ? JSON.stringify(a.detail) : "")}</td></tr>`).join("");
      document.querySelectorAll("#users [data-act]").forEach((b) => b.onclick = async () => {
        const tr = b.closest("tr"); const user = tr.dataset.user; err("");
        try {
          if (b.dataset.act === "save") {
            const roles = Array.from(tr.querySelectorAll("[data-role]:checked")).map((x) => x.dataset.role);
            const list = (sel) => tr.querySelector(sel).value.split(",").map((x) => x.trim()).filter(Boolean);
            await post(`/staff/admin/users/${user}/roles`, {roles, windows: list("[data-windows]"), departments: list("[data-departments]")});
          } else {
            const out = await post(`/staff/admin/users/${user}/state`, {action: b.dataset.act});
            if (out.password) once(user, out.password);
          }
          refresh();
        } catch (e) { err(e.message); }
      });
    }
    $("#add-form").onsubmit = async (e) => {
      e.preventDefault(); err("");
      const f = new FormData(e.target);
      try {
        const out = await post("/staff/admin/users", {username: f.get("username"), display_name: f.get("display_name"),
          post: f.get("post") || null, roles: f.getAll("roles"), windows: f.getAll("windows"),
          departments: f.getAll("departments")});
        once(out.staff.username, out.password); e.target.reset(); refresh();
      } catch (ex) { err(ex.message); }
    };
    document.querySelectorAll("[data-revoke]").forEach((b) => b.onclick = async () => {
      err("");
      if (!b.dataset.armed) { b.dataset.armed = "1"; b.textContent = "再次点击确认吊销"; return; }  // two clicks, no prompt()
      delete b.dataset.armed;
      try { const out = await post(`/staff/admin/stations/${b.dataset.revoke}/revoke`, {confirm: b.dataset.revoke}); b.textContent = `已吊销 ${out.revoked} 个`; refresh(); } catch (e) { err(e.message); }
    });
    refresh();
    document.body.dataset.live = "live"; $("#live-state").hidden = true;  // nothing live here: no badge
  };
  (pages[page] || (() => {}))();
})();
