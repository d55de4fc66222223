/* The kiosk of 合作市政务服务中心: home tiles, search, guided flows, item guides, tickets, appointment check-in.
 *
 * Everything comes from the server: GET /api/v1/kiosk/config (tiles, flows, items in zh/bo/en), destinations and
 * guides, POST tickets / check-ins (the server prints through the station's device agent). Card reads, code scans
 * and print results of this station arrive over Socket.IO (the hall room; events carry their station).
 * No keyboard or mouse is needed: every control is a large button; the search has its own letter keyboard.
 * An idle timeout returns home and forgets who tapped a card. */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("kiosk-data").textContent);
  var API = DATA.api;
  var S = {
    station: DATA.station, enrolled: DATA.enrolled, csrf: DATA.csrf, lang: DATA.lang, defaultLang: DATA.lang, elder: false, cfg: null,
    identity: null, screen: null, history: [], printer: null, lastActivity: Date.now(), busy: false,
    pending: null, results: {}, seq: null, socket: null, idleShown: false,
  };
  var main = document.getElementById("main");
  window.OneWindowKiosk = S;  // for tests and the technician's console

  // ------------------------------------------------------------------------------------------ helpers

  function t(key, vars) {
    var dict = DATA.i18n[S.lang] || DATA.i18n.zh;
    var s = dict[key] !== undefined ? dict[key] : (DATA.i18n.zh[key] !== undefined ? DATA.i18n.zh[key] : key);
    if (vars) Object.keys(vars).forEach(function (k) { s = s.split("{" + k + "}").join(vars[k]); });
    return s;
  }
  function L(label) { return label ? (label[S.lang] || label.zh) : ""; }
  /** An item's or material's name in the visitor's language; where the hall has no translation yet, the Chinese
   * name marked as Chinese (a small 中文 tag), never passed off silently as a translation. */
  function NM(names, zh) {
    var own = names && names[S.lang];
    if (S.lang === "zh" || own) return own || zh;
    return h("span", { class: "zh-fallback", lang: "zh-CN" }, zh, h("small", { class: "zh-tag" }, t("in_chinese")));
  }
  // The phone tracker opens in the language the citizen chose here.
  function trackerLink(tk) { return tk.tracker_url + (S.lang === "zh" ? "" : "?lang=" + S.lang); }

  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k === "on") Object.keys(v).forEach(function (ev) { el.addEventListener(ev, v[ev]); });
      else if (k === "data") Object.keys(v).forEach(function (d) { el.dataset[d] = v[d]; });
      else el.setAttribute(k, v === true ? "" : v);
    });
    for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }
  function add(el) {  // add(el, child, child...): strings, elements, arrays; null/false skipped
    for (var i = 1; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) { child.forEach(function (c) { add(el, c); }); continue; }
      el.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
    }
  }
  function button(label, onClick, cls, extra) {
    var attrs = Object.assign({ class: "btn " + (cls || ""), type: "button", on: { click: function (e) {
      e.preventDefault(); if (!S.busy) onClick(e);
    } } }, extra || {});
    return h("button", attrs, label);
  }
  function uuid() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
  }

  function api(method, path, body, headers) {
    var base = { "X-Actor": "kiosk:" + S.station };
    if (S.csrf) base["X-CSRF-Token"] = S.csrf;   // an enrolled kiosk acts with its session cookie
    var opts = { method: method, headers: Object.assign(base, headers || {}), cache: "no-store" };
    if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
    return fetch(API + path, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) {
          var err = (j && j.error) || {};
          throw { status: r.status, code: err.code || "http_" + r.status, message: err.message || "", details: err.details || {} };
        }
        return j;
      });
    }, function () { throw { status: 0, code: "network", message: "", details: {} }; });
  }

  // ------------------------------------------------------------------------------------------ screens

  var SCREENS = {};

  function go(name, args, opts) {
    opts = opts || {};
    if (S.screen && !opts.replace && !opts.root) S.history.push(S.screen);
    if (opts.root) S.history = [];
    S.screen = { name: name, args: args || {} };
    render();
  }
  function back() {
    if (S.history.length) { S.screen = S.history.pop(); render(); } else goHome();
  }
  function goHome() { go("home", {}, { root: true }); }

  function render() {
    var sc = S.screen;
    document.body.dataset.screen = sc.name;
    document.documentElement.lang = S.lang === "zh" ? "zh-CN" : S.lang;
    document.body.classList.toggle("elder", S.elder);
    document.body.classList.toggle("lang-bo", S.lang === "bo");
    renderChrome();
    main.textContent = "";
    var el = SCREENS[sc.name](sc.args);
    add(main, el);
    main.scrollTop = 0;
  }

  function perScreen() { return S.elder ? S.cfg.kiosk.elder_per_screen : S.cfg.kiosk.per_screen; }

  /* A list that shows perScreen() entries at a time, with large previous/next buttons. */
  function paged(args, list, draw, cls) {
    var per = perScreen();
    var pages = Math.max(1, Math.ceil(list.length / per));
    var page = Math.min(args.page || 0, pages - 1);
    var grid = h("div", { class: "grid " + (cls || "") });
    list.slice(page * per, page * per + per).forEach(function (x) { grid.appendChild(draw(x)); });
    var nav = null;
    if (pages > 1) {
      nav = h("div", { class: "pager" },
        button("◀ " + t("prev_page"), function () { args.page = page - 1; render(); }, "ghost", { disabled: page === 0 }),
        h("span", { class: "page-no" }, t("page", { n: page + 1, of: pages })),
        button(t("next_page") + " ▶", function () { args.page = page + 1; render(); }, "ghost next-page",
               { disabled: page >= pages - 1 }));
    }
    return [grid, nav];
  }

  function visible(list) { return S.elder ? list.filter(function (o) { return o.elder !== false; }) : list; }

  function title(text, sub) {
    return h("div", { class: "title" }, h("h1", null, text), sub ? h("p", { class: "sub" }, sub) : null);
  }

  function tileButton(tile) {
    return h("button", { class: "tile tile-" + tile.group, type: "button", data: { tile: tile.id },
                         on: { click: function () { if (!S.busy) openTile(tile); } } },
      h("span", { class: "icon", "aria-hidden": "true" }, tile.icon || ""),
      h("span", { class: "label" }, L(tile.label)),
      tile.hint && !S.elder ? h("span", { class: "hint" }, L(tile.hint)) : null);
  }

  function openTile(tile) {
    if (tile.flow) go("flow", { flow: tile.flow, node: S.cfg.flows[tile.flow].start });
    else follow(tile, tile.label);
  }

  /* Where an answer (or a tile) leads. */
  function follow(o, label) {
    if (o.next) go("flow", { flow: S.screen.args.flow, node: o.next });
    else if (o.flow) go("flow", { flow: o.flow, node: S.cfg.flows[o.flow].start });
    else if (o.items) go("items", { ids: o.items.ids, label: label });
    else if (o.item) go("dest", { item: o.item });
    else if (o.queue) go("dest", { queue: o.queue });
    else if (o.assisted) go("dest", { assisted: o.assisted, legal_reason: o.legal_reason });
  }

  /** Outside ticket hours the home says so, with the next opening, instead of a menu that ends in "closed". */
  function closedPanel(hours) {
    var when = hours.opens ? (hours.opens[S.lang] || hours.opens.zh) : null;
    return h("div", { class: "closed-panel", id: "closed-panel", role: "status" },
      h("h2", null, t("closed_title")),
      hours.reason ? h("p", { class: "closed-reason" }, S.lang === "en" ? hours.reason_en : hours.reason) : null,
      when ? h("p", { class: "closed-opens" }, t("closed_opens").replace("{when}", when)) : null,
      h("p", { class: "closed-hours" }, t("closed_hours").replace("{sessions}", (hours.sessions || []).join("、"))),
      h("p", { class: "closed-track" }, t("closed_track")));
  }

  SCREENS.home = function (args) {
    var cfg = S.cfg;
    var box = h("div", { class: "home" });
    if (S.hours && S.hours.demo) add(box, h("p", { class: "demo-ribbon", id: "demo-ribbon" }, t("demo_mode")));
    if (S.hours && !S.hours.open) { add(box, closedPanel(S.hours)); return box; }
    add(box, title(t("welcome")));
    add(box, h("div", { class: "home-actions" },
      button(t("search"), function () { go("search", { q: "" }); }, "search-btn big"),
      h("div", { class: "hints" },
        h("p", { class: "hint-card" }, t("tap_card_hint")),
        h("p", { class: "hint-scan" }, t("scan_hint")))));
    var tiles = cfg.tiles.filter(function (x) { return x.group !== "help"; });
    var help = cfg.tiles.filter(function (x) { return x.group === "help"; });
    if (S.elder) {
      // Fewer, larger choices; the help tile leads straight to the assisted desk.
      var few = tiles.filter(function (x) { return x.elder !== false; }).slice(0, 6);
      var grid = h("div", { class: "grid tiles elder-tiles" });
      few.forEach(function (x) { grid.appendChild(tileButton(x)); });
      add(box, grid);
      add(box, h("div", { class: "grid help-row" },
        h("button", { class: "tile tile-help", type: "button", data: { tile: "help-elder" },
                      on: { click: function () { if (!S.busy) go("dest", { assisted: "elderly" in cfg.assisted_reasons ? "elderly" : Object.keys(cfg.assisted_reasons)[0] }); } } },
          h("span", { class: "icon" }, help.length ? help[0].icon || "" : ""), h("span", { class: "label" }, help.length ? L(help[0].label) : t("help_me"))),
        button(t("all_services"), function () { go("alltiles", {}); }, "tile more-tile")));
      return box;
    }
    ["theme", "zone"].forEach(function (group) {
      var g = tiles.filter(function (x) { return x.group === group; });
      if (!g.length) return;
      var grid = h("div", { class: "grid tiles tiles-" + group });
      g.forEach(function (x) { grid.appendChild(tileButton(x)); });
      add(box, grid);
    });
    if (help.length) {
      var hg = h("div", { class: "grid help-row" });
      help.forEach(function (x) { hg.appendChild(tileButton(x)); });
      add(box, hg);
    }
    return box;
  };

  SCREENS.alltiles = function (args) {
    return [title(t("all_services")), paged(args, S.cfg.tiles, tileButton, "tiles")];
  };

  SCREENS.flow = function (args) {
    var flow = S.cfg.flows[args.flow];
    var node = flow.nodes[args.node];
    var opts = visible(node.options);
    return [
      h("p", { class: "crumb" }, L(flow.title)),
      title(L(node.ask), node.note ? L(node.note) : null),
      paged(args, opts, function (o) {
        return h("button", { class: "option", type: "button", data: { option: o.label.zh },
                             on: { click: function () { if (!S.busy) follow(o, o.label); } } },
          o.icon ? h("span", { class: "icon", "aria-hidden": "true" }, o.icon) : null,
          h("span", { class: "label" }, L(o.label)),
          o.hint ? h("span", { class: "hint" }, L(o.hint)) : null);
      }, "options"),
    ];
  };

  function itemButton(id) {
    var it = S.cfg.items[id];
    return h("button", { class: "option item", type: "button", data: { item: id },
                         on: { click: function () { if (!S.busy) go("dest", { item: id }); } } },
      h("span", { class: "label" }, NM(it.names, it.name)),
      h("span", { class: "hint" }, [it.fully_online ? t("online_tag") + " · " : "", it.kind === "immediate" ? t("immediate")
                                   : t("promised", { days: it.promised_days })].join("")));
  }

  SCREENS.items = function (args) {
    return [title(args.label ? L(args.label) : t("choose_item"), t("choose_item")),
            paged(args, args.ids, itemButton, "options")];
  };

  // ---- search with its own letter keyboard (pinyin initials) and an input a hardware keyboard may use
  var searchTimer = null;
  SCREENS.search = function (args) {
    var input = h("input", { id: "search-input", class: "search-input", type: "search", inputmode: "none",
                             autocomplete: "off", value: args.q || "", placeholder: t("search_example"),
                             on: { input: function () { args.q = input.value; args.page = 0; schedule(); } } });
    var results = h("div", { class: "results" });
    function schedule() {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(run, 150);
    }
    function run() {
      var q = (args.q || "").trim();
      if (!q) { results.textContent = ""; return; }
      api("GET", "/kiosk/search?q=" + encodeURIComponent(q)).then(function (r) {
        if (S.screen.args !== args) return;
        args.hits = r.results;
        drawResults();
      }).catch(function () {});
    }
    function drawResults() {
      results.textContent = "";
      var hits = args.hits || [];
      if (!hits.length) { add(results, h("p", { class: "none" }, t("search_none"))); return; }
      add(results, paged(args, hits, function (x) {
        if (x.kind === "tile") {
          var tile = S.cfg.tiles.filter(function (y) { return y.id === x.id; })[0];
          return h("button", { class: "option tile-hit", type: "button", data: { tile: x.id },
                               on: { click: function () { if (!S.busy) openTile(tile); } } },
            h("span", { class: "icon" }, tile.icon || ""), h("span", { class: "label" }, L(tile.label)));
        }
        return itemButton(x.id);
      }, "options"));
    }
    function key(ch) {
      var label = ch === "back" ? t("kb_back") : ch === "clear" ? t("kb_clear") : ch;
      return button(label, function () {
        if (ch === "back") input.value = input.value.slice(0, -1);
        else if (ch === "clear") input.value = "";
        else input.value += ch;
        args.q = input.value; args.page = 0; schedule();
      }, "key" + (ch.length > 1 ? " wide" : ""), { data: { key: ch } });
    }
    var kb = h("div", { class: "keyboard" });
    ["qwertyuiop", "asdfghjkl", "zxcvbnm"].forEach(function (row, i) {
      var r = h("div", { class: "krow" });
      row.split("").forEach(function (c) { r.appendChild(key(c)); });
      if (i === 2) { r.appendChild(key("back")); r.appendChild(key("clear")); }
      kb.appendChild(r);
    });
    if (args.hits) drawResults(); else if (args.q) schedule();
    return [title(t("search_title"), t("search_example")), h("div", { class: "search-row" }, input), kb, results,
            h("div", { class: "help-row" }, button(t("help_me"), function () { openTile(helpTile()); }, "ghost"))];
  };

  function helpTile() {
    return S.cfg.tiles.filter(function (x) { return x.group === "help"; })[0] ||
           { assisted: Object.keys(S.cfg.assisted_reasons)[0], label: { zh: t("help_me") } };
  }

  // ---- destination: self-service, assisted desk or a window, with the item's guide
  SCREENS.dest = function (args) {
    if (!args.data) {
      var q = [];
      if (args.item) q.push("item=" + encodeURIComponent(args.item));
      if (args.queue) q.push("queue=" + encodeURIComponent(args.queue));
      if (args.assisted) q.push("assisted=" + encodeURIComponent(args.assisted));
      if (args.legal_reason) q.push("legal_reason=" + encodeURIComponent(args.legal_reason));
      api("GET", "/kiosk/destination?" + q.join("&")).then(function (d) {
        args.data = d;
        if (S.screen.args === args) render();
      }, showError);
      return h("p", { class: "loading" }, t("checking"));
    }
    var d = args.data;
    var box = h("div", { class: "dest dest-" + d.outcome });
    var item = d.item;
    add(box, title(item ? NM(item.names, item.name) : L(d.queue.name),
                   d.outcome === "assisted" ? (d.reason ? L(d.reason.label) : t("assisted_title")) : null));
    if (d.outcome === "self_service") add(box, onlineBlock(d, args));
    else {
      add(box, whereBlock(d.queue));
      if (d.outcome === "assisted") {
        add(box, h("p", { class: "lead" }, t("assisted_text")));
        if (d.legal_reason) add(box, h("p", { class: "note" }, t("priority_note")));
      }
      add(box, ticketButtons(args, d));
    }
    if (item) add(box, guideBlock(item));
    return box;
  };

  function whereBlock(q) {
    var w = q.where;
    var site = w.zone.site;
    return h("div", { class: "where" },
      h("p", { class: "where-text" }, L(w.text)),
      site.main ? null : h("p", { class: "note other-site" }, t("other_site", { site: L(site.name) + (site.address ? " " + site.address : "") })),
      h("p", { class: "waiting" }, q.estimated_wait_min !== null && q.estimated_wait_min !== undefined
        ? t("waiting_now", { n: q.waiting, min: q.estimated_wait_min }) : t("waiting_now_n", { n: q.waiting })));
  }

  function defaultTicket(args) {
    var d = args.data;
    return { item_id: d.item ? d.item.item_id : undefined, queue_id: d.queue.id,
             assisted: d.outcome === "assisted" && d.reason ? d.reason.id : undefined,
             legal_reason: d.legal_reason || undefined };
  }

  function ticketLabel() {
    return S.identity && S.identity.name_masked ? t("take_ticket_as", { name: S.identity.name_masked }) : t("take_ticket");
  }

  function ticketButtons(args, d) {
    var base = defaultTicket(args);
    var row = h("div", { class: "actions" });
    var copies = d.item && d.outcome === "window" ? d.item.copies_needed : [];
    if (copies.length) {
      add(row, h("p", { class: "question" }, t("copies_question")));
      add(row, button(t("copies_yes"), function () { takeTicket(base); }, "primary take-ticket"));
      add(row, button(t("copies_no"), function () { takeTicket(Object.assign({}, base, { copies_missing: true })); },
                      "secondary copies-missing"));
    } else {
      add(row, button(ticketLabel(), function () { takeTicket(base); }, "primary take-ticket"));
    }
    if (!S.identity) add(row, h("p", { class: "note" }, t("one_step_hint")));
    return row;
  }

  function onlineBlock(d, args) {
    var o = d.online;
    var box = h("div", { class: "online" }, h("h2", null, t("online_title")));
    add(box, whereBlock(d.queue));
    var base = defaultTicket(args);
    var row = h("div", { class: "actions" },
      button(t("online_helper"), function () { takeTicket(Object.assign({}, base, { queue_id: d.queue.id })); },
             "primary take-ticket helper-ticket"));
    if (d.window_queue) {
      add(row, button(t("online_window"), function () {
        go("dest", { queue_window: true, item: args.item, data: Object.assign({}, d, {
          outcome: "window", queue: d.window_queue, window_queue: null, online: null }) });
      }, "secondary window-instead"));
    }
    if (!S.identity) add(row, h("p", { class: "note" }, t("one_step_hint")));
    add(box, row);
    if (!S.elder) {
      var steps = h("ol", { class: "steps" });
      o.steps.forEach(function (s) { steps.appendChild(h("li", null, L(s))); });
      var portals = h("div", { class: "portals" });
      o.portals.forEach(function (p) {
        portals.appendChild(h("figure", { class: "portal" },
          h("img", { src: "/kiosk/qr.svg?d=" + encodeURIComponent(p.url), alt: "", class: "qr" }),
          h("figcaption", null, L(p.name), h("br"), h("small", null, p.hint ? L(p.hint) : t("scan_portal")))));
      });
      add(box, h("section", { class: "how-online" }, h("div", null, h("h3", null, t("online_steps")), steps), portals));
    }
    return box;
  }

  function guideBlock(g) {
    var box = h("section", { class: "guide" }, h("h2", null, t("materials")));
    if (!g.materials.length) add(box, h("p", null, t("no_materials")));
    var list = h("ol", { class: "materials" });
    g.materials.forEach(function (m) {
      var tags = [];
      if (m.original) tags.push(t("original"));
      if (m.copies) tags.push(t("copies", { n: m.copies }));
      if (m.tolerance) tags.push(t("tolerance"));
      if (m.e_licence) tags.push(t("e_licence"));
      list.appendChild(h("li", null, h("span", { class: "m-name" }, NM(m.names, m.name)),
                         h("span", { class: "m-tags" }, tags.join(" · "))));
    });
    add(box, list);
    add(box, h("p", { class: "time" }, (g.kind === "immediate" ? t("immediate") : t("promised", { days: g.promised_days }))));
    if (g.copies_needed.length && g.copy_point) {
      add(box, h("p", { class: "note" }, t("copy_first", { zone: L(g.copy_point.name), names: copyNames(g.copies_needed) })));
    }
    if (g.materials.length) {
      var status = h("p", { class: "checklist-status" });
      add(box, button(t("print_checklist"), function () {
        api("POST", "/kiosk/print-checklist", { station: S.station, item_id: g.item_id }).then(function (r) {
          status.textContent = r.print.status === "sent" ? t("checklist_sent") : t("checklist_unavailable");
        }, showError);
      }, "ghost print-checklist"), status);
    }
    return box;
  }

  function copyNames(list) { return list.map(function (c) { return c.name + "×" + c.copies; }).join("、"); }

  // ---- tickets
  // A network blip or a busy server (503) is retried with the same Idempotency-Key: never two tickets.
  function postWithRetry(path, body, key, attempt) {
    return api("POST", path, body, { "Idempotency-Key": key }).catch(function (e) {
      if ((e.status === 0 || e.status === 503) && attempt < 4) {
        return new Promise(function (done) { setTimeout(done, 500 * Math.pow(2, attempt)); })
          .then(function () { return postWithRetry(path, body, key, attempt + 1); });
      }
      throw e;
    });
  }

  function takeTicket(opts) {
    if (S.busy) return;
    S.busy = true;
    document.body.classList.add("busy");
    var body = Object.assign({ station: S.station, lang: S.lang }, opts);
    if (S.identity) body.card_input_id = S.identity.input_id;
    Object.keys(body).forEach(function (k) { if (body[k] === undefined) delete body[k]; });
    postWithRetry("/kiosk/tickets", body, uuid(), 0).then(function (r) {
      showTicket(r);
    }, showError).then(function () { S.busy = false; document.body.classList.remove("busy"); });
  }

  function showTicket(r) {
    var mode;
    if (r.print.status === "sent") mode = S.results[r.print.command_id] ? modeOf(S.results[r.print.command_id]) : "printing";
    else if (r.print.status === "unavailable") mode = "screen";
    else mode = "existing";
    // The card has done its work: the masked name leaves the screen with the ticket (the reader does not report
    // a lifted card, so waiting for the idle reset kept it up for a minute behind the citizen's back).
    S.identity = null;
    go("ticket", { r: r, mode: mode }, { replace: true });
    S.history = [];
    if (mode === "printing") watchPrint(r);
    else if (mode === "screen" && r.print.status === "sent") reportFailure(r, S.results[r.print.command_id]);
  }

  function modeOf(result) { return result.ok ? "printed" : "screen"; }

  function watchPrint(r) {
    var id = r.print.command_id;
    if (S.pending) clearTimeout(S.pending.timer);
    S.pending = { command_id: id, r: r, timer: setTimeout(function () {
      if (S.pending && S.pending.command_id === id) printDone({ command_id: id, ok: false, error: "no answer from the printer" });
    }, S.cfg.kiosk.print_wait_s * 1000) };
  }

  function printDone(result) {
    S.results[result.command_id] = result;
    var p = S.pending;
    if (!p || p.command_id !== result.command_id) return;
    clearTimeout(p.timer);
    S.pending = null;
    if (S.screen.name === "ticket" && S.screen.args.r === p.r) {
      S.screen.args.mode = modeOf(result);
      S.lastActivity = Date.now();
      render();
    }
    if (!result.ok) reportFailure(p.r, result);
  }

  function reportFailure(r, result) {
    api("POST", "/kiosk/print-failed", { station: S.station, ticket_id: r.ticket.id, command_id: r.print.command_id,
                                          error: (result && result.error) || null }).catch(function () {});
  }

  function ticketCard(tk, big) {
    var pr = { elderly: "priority_elderly", appointment: "priority_appointment", legal: "priority_legal",
               green: "priority_green" }[tk.priority];
    return h("div", { class: "ticket" + (big ? " big" : "") },
      h("p", { class: "t-label" }, t("your_number")),
      h("p", { class: "t-number", id: big ? "ticket-number" : null }, tk.number),
      h("p", { class: "t-queue" }, L(tk.queue_name)),
      tk.item_name ? h("p", { class: "t-item" }, NM(tk.item_names, tk.item_name)) : null,
      pr ? h("p", { class: "t-priority" }, t(pr)) : null,
      h("p", { class: "t-where" }, L(tk.where.text)),
      h("p", { class: "t-ahead" }, t("ahead", { n: tk.ahead }) + " · " +
        (tk.estimated_wait_min !== null && tk.estimated_wait_min !== undefined ? t("wait_min", { min: tk.estimated_wait_min }) : t("wait_unknown"))),
      tk.copy_first && tk.copy_first.length ? h("p", { class: "note t-copy" }, t("copy_first", {
        zone: L((S.cfg.zones.copy || { name: { zh: "免费复印区" } }).name), names: copyNames(tk.copy_first) })) : null,
      h("p", { class: "t-time" }, t("issued_at", { time: tk.issued_local })));
  }

  SCREENS.ticket = function (args) {
    var r = args.r, tk = r.ticket, mode = args.mode;
    var head = r.appointment ? t("checkin_ok") : (r.reason === "already_has_ticket" ? t("already_have") : null);
    var onScreen = mode === "screen";
    var status = {
      printing: h("p", { class: "print-status printing" }, h("span", { class: "spinner" }), t("printing")),
      printed: h("p", { class: "print-status printed" }, "✓ " + t("printed")),
      screen: h("p", { class: "print-status not-printed" }, t("not_printed"), h("br"),
                h("small", null, t("staff_told"))),
      existing: null,
    }[mode];
    return h("div", { class: "ticket-screen mode-" + mode },
      head ? h("p", { class: "ticket-head" }, head) : null,
      status,
      h("div", { class: "ticket-row" },
        ticketCard(tk, true),
        h("figure", { class: "track" + (onScreen || mode === "existing" ? " large" : "") },
          h("img", { class: "qr", id: "ticket-qr", alt: "", src: "/kiosk/qr.svg?d=" + encodeURIComponent(trackerLink(tk)) }),
          h("figcaption", null, t("scan_to_track")))));
  };

  SCREENS.tickets = function (args) {
    var list = h("div", { class: "ticket-list" });
    args.list.forEach(function (tk) { list.appendChild(h("div", { class: "ticket-row" }, ticketCard(tk, false),
      h("figure", { class: "track" }, h("img", { class: "qr", alt: "", src: "/kiosk/qr.svg?d=" + encodeURIComponent(trackerLink(tk)) }),
        h("figcaption", null, t("scan_to_track"))))); });
    return h("div", { class: "tickets-screen" }, title(t("existing_tickets"), t("already_have")), list,
      h("div", { class: "actions" }, button(t("another"), function () { go("home", {}, { root: true }); }, "secondary another")));
  };

  SCREENS.message = function (args) {
    return h("div", { class: "message " + (args.kind || "") },
      h("p", { class: "msg-icon" }, args.kind === "wait" ? "…" : "!"),
      h("h1", { class: "msg-text" }, args.text || t(args.key, args.vars)),
      args.kind === "wait" ? null : h("div", { class: "actions" },
        button(t("home"), goHome, "primary msg-home")));
  };

  var ERRORS = { appointment_not_found: 1, appointment_used: 1, appointment_expired: 1, appointment_too_early: 1,
                 appointment_cancelled: 1, not_an_appointment_code: 1, closed: 1, daily_cap_reached: 1,
                 card_input_expired: 1 };

  function showError(e) {
    e = e || {};
    var d = e.details || {}, a = d.appointment || {};
    var key = ERRORS[e.code] ? "err_" + e.code : "err_generic";
    go("message", { key: key, code: e.code, kind: "error", vars: {
      number: d.number || "", opens: a.check_in_opens || "", closes: a.check_in_closes || "", slot: a.slot_local || "" } },
      { replace: S.screen && S.screen.name === "message" });
  }

  // ------------------------------------------------------------------------------------------ chrome

  function renderChrome() {
    var cfg = S.cfg;
    document.getElementById("hall-name").textContent = cfg.hall.name.zh;
    document.getElementById("hall-sub").textContent = S.lang === "zh" ? cfg.hall.name.en : cfg.hall.name[S.lang];
    document.getElementById("hall-sub").lang = S.lang === "bo" ? "bo" : "en";
    Array.prototype.forEach.call(document.querySelectorAll("[data-lang]"), function (b) {
      b.classList.toggle("on", b.dataset.lang === S.lang);
    });
    var eb = document.getElementById("btn-elder");
    eb.textContent = S.elder ? "Aa " + t("elder_off") : "Aa+ " + t("elder_on");
    eb.classList.toggle("on", S.elder);
    var nav = document.getElementById("foot");
    nav.textContent = "";
    var atHome = S.screen.name === "home";
    if (!atHome && S.screen.name !== "ticket") add(nav, button("◀ " + t("back"), back, "ghost back"));
    if (!atHome) add(nav, button(t("home"), goHome, "ghost home-btn"));
    // The station's name is for the technician (the page's title and data-station), not for citizens.
    if (atHome) add(nav, h("p", { class: "foot-note", title: S.station }, t("app_title")));
    if (S.screen.name === "ticket" || S.screen.name === "tickets") add(nav, button("✓ " + t("done"), reset, "primary done"));
    renderPrinterBanner();
    renderIdentity();
  }

  function renderPrinterBanner() {
    var b = document.getElementById("printer-banner");
    var down = S.printer && !S.printer.printable;
    b.hidden = !down;
    b.textContent = down ? t("printer_down") : "";
    document.body.classList.toggle("printer-down", !!down);
  }

  function renderIdentity() {
    var bar = document.getElementById("identity");
    bar.textContent = "";
    var who = S.identity;
    bar.hidden = !who;
    if (!who) return;
    add(bar, h("span", { class: "greet", id: "greeting" }, t("greeting", { name: who.name_masked || "" })),
      h("span", { class: "greet-next" }, who.elderly ? t("greeting_elderly") : t("greeting_next")),
      who.expired ? h("span", { class: "expired" }, t("card_expired")) : null,
      button(t("forget_me"), function () { S.identity = null; render(); }, "ghost small forget"));
  }

  function setLang(lang) { S.lang = lang; render(); }

  function reset() {
    S.identity = null;
    S.elder = false;
    S.lang = S.defaultLang;
    S.busy = false;
    document.body.classList.remove("busy");
    hideIdle();
    goHome();
  }

  // ------------------------------------------------------------------------------------------ idle

  var IDENTITY_S = 20;  // a masked name left untouched this long is taken off the screen
  function activity() { S.lastActivity = Date.now(); if (S.idleShown) hideIdle(); }
  function idleLimit() {
    var k = S.cfg.kiosk;
    if (DATA.idle_s) return S.elder ? DATA.idle_s * 2 : DATA.idle_s;
    if (S.screen && S.screen.name === "ticket") return S.screen.args.mode === "screen" ? k.ticket_on_screen_s * 3 : k.ticket_on_screen_s;
    return S.elder ? k.elder_idle_timeout_s : k.idle_timeout_s;
  }
  function showIdle(s) {
    var o = document.getElementById("idle");
    o.hidden = false;
    S.idleShown = true;
    document.getElementById("idle-text").textContent = t("still_there", { s: s });
    document.getElementById("idle-continue").textContent = t("continue");
  }
  function hideIdle() { document.getElementById("idle").hidden = true; S.idleShown = false; }
  function tick() {
    if (!S.cfg || !S.screen) return;
    var pristine = S.screen.name === "home" && !S.identity && !S.elder && S.lang === S.defaultLang;
    if (pristine) { if (S.idleShown) hideIdle(); return; }
    var idle = (Date.now() - S.lastActivity) / 1000;
    if (S.identity && idle >= IDENTITY_S) { S.identity = null; renderIdentity(); }
    var limit = idleLimit();
    var warn = Math.min(S.cfg.kiosk.warn_before_s, Math.floor(limit / 2));
    if (idle >= limit) reset();
    else if (idle >= limit - warn && S.screen.name !== "ticket") showIdle(Math.ceil(limit - idle));
    else if (S.idleShown) hideIdle();
  }

  // ------------------------------------------------------------------------------------------ devices

  function refreshStatus() {
    return api("GET", "/kiosk/status?station=" + encodeURIComponent(S.station)).then(function (r) {
      S.printer = r.printer;
      var was = S.hours ? S.hours.open + "/" + S.hours.demo : null;
      S.hours = r.hours || null;
      if (S.screen) renderPrinterBanner();
      var now = S.hours ? S.hours.open + "/" + S.hours.demo : null;
      if (now !== was && S.screen && S.screen.name === "home" && !S.busy) render();
    }, function () {});
  }

  function onCard(p) {
    activity();
    api("POST", "/kiosk/identify", { station: S.station, input_id: p.input_id }).then(function (who) {
      S.identity = who;
      if (who.elderly && !S.elder) S.elder = true;  // bigger text, fewer choices, longer timeouts
      var sc = S.screen;
      if (sc.name === "dest" && sc.args.data && !S.busy) { render(); takeTicket(defaultTicket(sc.args)); return; }
      if (who.open_tickets.length && sc.name !== "ticket") { go("tickets", { list: who.open_tickets }); return; }
      render();
    }, showError);
  }

  function onCode(p) {
    activity();
    if (S.busy) return;
    S.busy = true;
    go("message", { key: "checking", kind: "wait" });
    api("POST", "/kiosk/checkin", { station: S.station, code: p.data.code, lang: S.lang }).then(showTicket, showError)
      .then(function () { S.busy = false; });
  }

  function handle(type, p, replay) {
    if (!p || typeof p !== "object" || p.station !== S.station || !S.cfg) return;
    if (type === "device_input" && !replay) {
      if (p.kind === "card_read") onCard(p);
      else if (p.kind === "code_scanned") onCode(p);
    } else if (type === "device_health") {
      refreshStatus();
    } else if (type === "command_result") {
      printDone(p);
    }
  }

  function offline(on) {
    var b = document.getElementById("offline");
    b.hidden = !on;
    b.textContent = on ? t("offline") : "";
  }

  function connect() {
    if (!window.io) return;
    var sock = (S.socket = window.io({ transports: ["websocket", "polling"], reconnectionDelay: 500,
                                       reconnectionDelayMax: 3000, timeout: 5000 }));
    var downTimer = null;
    sock.on("connect", function () {
      clearTimeout(downTimer);
      offline(false);
      var sub = S.seq === null ? { hall: true } : { hall: true, since: S.seq };
      if (S.enrolled === S.station) sub.station = S.station;   // card reads, scans, print results of this kiosk
      sock.timeout(10000).emit("subscribe", sub, function (err, ack) {
        if (err || !ack || !ack.ok) return;
        (ack.events || []).forEach(function (ev) { handle(ev.type, ev.payload, true); });
        S.seq = ack.seq;
      });
      refreshStatus();
    });
    sock.on("disconnect", function () { downTimer = setTimeout(function () { offline(true); }, 1500); });
    sock.onAny(function (type, p) {
      if (p && typeof p.seq === "number" && (S.seq === null || p.seq > S.seq)) S.seq = p.seq;
      handle(type, p, false);
    });
  }

  // ------------------------------------------------------------------------------------------ start

  function bind() {
    ["pointerdown", "touchstart", "keydown"].forEach(function (ev) { document.addEventListener(ev, activity, true); });
    Array.prototype.forEach.call(document.querySelectorAll("[data-lang]"), function (b) {
      b.addEventListener("click", function () { activity(); if (S.cfg) setLang(b.dataset.lang); });
    });
    document.getElementById("btn-elder").addEventListener("click", function () {
      if (S.cfg) { S.elder = !S.elder; render(); }
    });
    document.getElementById("idle-continue").addEventListener("click", function () { activity(); });
    document.addEventListener("contextmenu", function (e) { e.preventDefault(); });
  }

  // The kiosk PC's browser proves its station once: the technician opens the page with #token=<the station's
  // device token>; the page trades it for a session cookie and drops it from the address bar.
  function enrol() {
    var m = /(?:^|[#&])token=([^&]+)/.exec(window.location.hash || "");
    if (!m) return Promise.resolve();
    history.replaceState(null, "", window.location.pathname + window.location.search);
    return api("POST", "/kiosk/session", { token: decodeURIComponent(m[1]) }).then(function (r) {
      S.enrolled = r.station; S.csrf = r.csrf_token;
    }, function () { S.enrolled = null; });
  }

  function start() {
    enrol().then(loadConfig);
  }

  function loadConfig() {
    api("GET", "/kiosk/config?station=" + encodeURIComponent(S.station)).then(function (cfg) {
      S.cfg = cfg;
      goHome();
      document.body.dataset.ready = "1";
      refreshStatus();
      connect();
      setInterval(tick, 1000);
      setInterval(refreshStatus, 15000);
    }, function () { setTimeout(loadConfig, 3000); });
  }

  // Hooks for tests and the technician: what a card tap or a scan would do, without the devices.
  S.simulate = { card: function (inputId) { onCard({ input_id: inputId }); },
                 code: function (code) { onCode({ data: { code: code } }); } };

  bind();
  start();
})();
