/* The staff workbench's shared parts: the API call with the page's CSRF token, server errors in Chinese (English
 * second), dialogs instead of prompt()/confirm() (Enter confirms, Esc cancels), and hall-local 24-hour times. */
(function () {
  "use strict";
  const meta = (name) => { const m = document.querySelector(`meta[name="${name}"]`); return m ? m.content : ""; };
  const TZ = meta("hall-tz") || "Asia/Shanghai";

  // Chinese for the error codes a clerk meets; anything else keeps the server's message after a Chinese lead.
  const CODES = {
    wrong_role: "您的角色无权进行此操作",
    wrong_window: "您未被分配到该窗口，只能操作自己的窗口",
    csrf_failed: "页面已过期，请刷新页面后重试",
    not_logged_in: "请先登录",
    login_required: "请先登录",
    unauthorized: "请先登录",
    account_locked: "登录失败次数过多，账户已暂时锁定，请稍后再试或联系管理员",
    locked: "登录失败次数过多，账户已暂时锁定，请稍后再试或联系管理员",
    account_disabled: "此账户已停用，请联系管理员",
    auth_failed: "用户名或密码错误",
    login_failed: "用户名或密码错误",
    wrong_department: "此办件不属于您的部门",
    forbidden: "您无权进行此操作",
    bad_credentials: "用户名或密码错误",
    login_throttled: "登录尝试过于频繁，请稍后再试",
    no_current_ticket: "当前没有号码，请先叫号",
    current_ticket_pending: "当前号码尚未办结，请先办结或过号",
    queue_empty: "没有等候的号码",
    nobody_waiting: "没有等候的号码",
    window_paused: "窗口已暂停，请先恢复",
    invalid_transition: "当前状态下不能进行此操作",
    receiver_required: "请填写领取人姓名",
    bad_tracking_number: "快递单号应为 6–40 位字母、数字或“-”",
    carrier_required: "请填写快递公司",
    ticket_not_found: "排队号不存在",
    case_not_found: "办件不存在",
    not_found: "未找到",
    busy: "系统繁忙，请稍后重试",
    hall_busy: "系统繁忙，请稍后重试",
    internal_error: "系统出错，已记录，请稍后重试",
  };
  const FIELDS = {
    id_number: "身份证号码", applicant_name: "申请人姓名", phone: "联系电话", item_id: "办理事项",
    materials: "收件清单", reasons: "理由", procedure: "特别程序", reason: "原因", supply_by: "补齐期限",
    receiver_name: "领取人", tracking_number: "快递单号", carrier: "快递公司", note: "记录",
  };
  const hasHan = (s) => /[\u4e00-\u9fff]/.test(s || "");

  function problemZh(field, problem) {
    const f = field.split(".").pop();
    if (f === "id_number" && /check character/i.test(problem)) return "身份证号码校验位不符，请核对号码（最后一位）";
    if (f === "id_number") return "身份证号码应为 18 位（17 位数字加 1 位数字或 X）";
    if (f === "phone") return "联系电话格式不对：手机 11 位，座机如 0941-8212345";
    const name = FIELDS[f] || f;
    if (/at least 1|too short|required|missing/i.test(problem)) return `请填写${name}`;
    return `${name}填写有误`;
  }

  /** One sentence in Chinese for a failed reply, the server's English kept after it. */
  function errorZh(data, status) {
    const e = (data && data.error) || {};
    const details = e.details;
    let zh = CODES[e.code] || "";
    if (Array.isArray(details) && details.length && details[0].field) {
      zh = details.map((d) => problemZh(d.field, d.problem || "")).join("；");
    } else if (!zh && /check character/i.test(e.message || "")) {
      zh = "身份证号码校验位不符，请核对号码（最后一位）";
    }
    if (e.code && /lock/.test(e.code) && details && details.locked_until) {
      zh += "（至 " + time(details.locked_until, true) + "）";
    }
    if (details && typeof details.attempts_left === "number") zh += `，还可尝试 ${details.attempts_left} 次`;
    if (!zh) {
      if (hasHan(e.message)) return e.message;
      zh = status === 403 ? "您无权进行此操作" : status === 404 ? "未找到" : status >= 500 ? "系统暂时不可用，请稍后重试" : "操作未完成";
    }
    return e.message && !hasHan(e.message) ? `${zh} / ${e.message}` : zh;
  }

  async function api(method, path, body) {
    let r;
    try {
      r = await fetch("/api/v1" + path, {
        method, credentials: "same-origin", cache: "no-store",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": meta("csrf-token")},
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      const e = new Error("无法连接服务器，请检查网络 / cannot reach the server"); e.offline = true; throw e;
    }
    const data = await r.json().catch(() => ({}));
    if (r.status === 401 && !path.startsWith("/auth/")) {
      location.href = "/staff/login?next=" + encodeURIComponent(location.pathname + location.search);
    }
    if (!r.ok) { const e = new Error(errorZh(data, r.status)); e.status = r.status; e.data = data; throw e; }
    return data;
  }

  function say(text, isError) {
    const m = document.getElementById("msg");
    if (!m) return;
    m.textContent = text || "";
    m.className = "msg" + (isError ? " error" : text ? " ok" : "");
  }

  const pad = (n) => String(n).padStart(2, "0");
  /** An ISO instant as hall-local "YYYY-MM-DD HH:MM" (24-hour), or only "HH:MM" when short. */
  function time(iso, short) {
    if (!iso) return "—";
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    const p = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
      timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      hourCycle: "h23"}).formatToParts(d).map((x) => [x.type, x.value]));
    return short ? `${p.hour}:${p.minute}` : `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => { if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /** A modal form. fields: [{name, label, type: text|textarea|select|radio|date|checkbox, options: [[value, label]],
   * required, value, hint}]. Resolves to {name: value} on confirm, null on cancel (Esc or the cancel button). */
  function form(opts) {
    return new Promise((resolve) => {
      const dlg = el("dialog", {class: "staff-dialog", "aria-label": opts.title});
      const f = el("form", {method: "dialog", novalidate: true});
      f.appendChild(el("h3", {}, opts.title));
      if (opts.text) f.appendChild(el("p", {class: "dialog-text"}, opts.text));
      (opts.fields || []).forEach((fd, i) => {
        const id = `dlg-${fd.name}`;
        const row = el("div", {class: "field"});
        if (fd.type === "radio") {
          const fs = el("fieldset", {}); fs.appendChild(el("legend", {}, fd.label));
          fd.options.forEach(([v, label], j) => {
            const lab = el("label", {class: "choice"});
            const inp = el("input", {type: "radio", name: fd.name, value: v, required: fd.required, checked: fd.value === v || (fd.value === undefined && j === 0 && !fd.required)});
            lab.appendChild(inp); lab.appendChild(document.createTextNode(" " + label)); fs.appendChild(lab);
          });
          row.appendChild(fs);
        } else if (fd.type === "checkbox") {
          const lab = el("label", {class: "choice"});
          lab.appendChild(el("input", {type: "checkbox", name: fd.name, id, checked: !!fd.value}));
          lab.appendChild(document.createTextNode(" " + fd.label)); row.appendChild(lab);
        } else {
          row.appendChild(el("label", {for: id}, fd.label + (fd.required ? " *" : "")));
          let inp;
          if (fd.type === "select") {
            inp = el("select", {name: fd.name, id, required: fd.required});
            fd.options.forEach(([v, label]) => inp.appendChild(el("option", {value: v, selected: fd.value === v}, label)));
          } else if (fd.type === "textarea") {
            inp = el("textarea", {name: fd.name, id, rows: 3, required: fd.required, placeholder: fd.placeholder});
            inp.value = fd.value || "";
          } else {
            inp = el("input", {name: fd.name, id, type: fd.type || "text", required: fd.required,
                               placeholder: fd.placeholder, maxlength: fd.maxlength});
            inp.value = fd.value || "";
          }
          if (i === 0) inp.setAttribute("autofocus", "");
          row.appendChild(inp);
        }
        if (fd.hint) row.appendChild(el("small", {class: "hint"}, fd.hint));
        f.appendChild(row);
      });
      const err = el("p", {class: "error", role: "alert", hidden: true});
      f.appendChild(err);
      const bar = el("div", {class: "dialog-buttons"});
      const ok = el("button", {type: "submit", value: "ok", class: opts.danger ? "danger" : "primary"}, (opts.ok || "确定") + " ⏎");
      const cancel = el("button", {type: "button", value: "cancel"}, "取消 Esc");
      bar.appendChild(ok); bar.appendChild(cancel); f.appendChild(bar);
      dlg.appendChild(f);
      document.body.appendChild(dlg);
      let done = false;
      const finish = (v) => { if (done) return; done = true; dlg.close(); dlg.remove(); resolve(v); };
      cancel.addEventListener("click", () => finish(null));
      dlg.addEventListener("cancel", (ev) => { ev.preventDefault(); finish(null); });
      f.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const values = {};
        for (const fd of opts.fields || []) {
          if (fd.type === "checkbox") { values[fd.name] = f.elements[fd.name].checked; continue; }
          const node = f.elements[fd.name];
          const v = (node && node.value !== undefined ? node.value : "").trim();
          if (fd.required && !v) { err.textContent = `请填写“${fd.label}”`; err.hidden = false; return; }
          values[fd.name] = v;
        }
        const problem = opts.validate ? opts.validate(values) : null;
        if (problem) { err.textContent = problem; err.hidden = false; return; }
        finish(values);
      });
      dlg.showModal();
    });
  }

  function confirmBox(title, text, okLabel, danger) {
    return form({title, text, ok: okLabel || "确定", danger, fields: []}).then((v) => v !== null);
  }

  const lines = (text) => (text || "").split("\n").map((s) => s.trim()).filter(Boolean);

  /** GB 11643: the 18th character of a resident ID number. */
  function idCheckOk(id) {
    if (!/^\d{17}[\dX]$/.test(id)) return false;
    const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const sum = w.reduce((s, k, i) => s + k * Number(id[i]), 0);
    return "10X98765432"[sum % 11] === id[17];
  }

  document.addEventListener("click", async (ev) => {
    const b = ev.target.closest && ev.target.closest("[data-logout]");
    if (!b) return;
    ev.preventDefault();
    try { await api("POST", "/auth/logout", {}); } catch (e) { /* gone anyway */ }
    location.href = "/staff/login";
  });

  window.Staff = {api, say, time, form, confirm: confirmBox, lines, errorZh, idCheckOk, el, TZ};
})();
