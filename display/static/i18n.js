/* The citizen pages' texts come from config/i18n/{zh,bo,en}.yaml (the page's data carries them, each language
 * already falling back to Chinese where a text is missing). t("case.days", {n: 3}) formats one; a key ending in
 * "_one" is used when n is 1. The language: ?lang= in the link (the ticket's QR carries it), else the one chosen
 * on this phone before, else the phone's own. */
(function () {
  "use strict";
  function get(tree, key) {
    return key.split(".").reduce(function (node, k) { return node == null ? undefined : node[k]; }, tree);
  }
  function I18n(strings) {
    this.strings = strings;
    var fromLink = null;
    try { fromLink = new URLSearchParams(location.search).get("lang"); } catch (e) { /* old browser */ }
    var saved = null;
    try { saved = localStorage.getItem("onewindow.lang"); } catch (e) { /* private mode */ }
    var nav = (navigator.language || "zh").slice(0, 2);
    this.lang = strings[fromLink] ? fromLink : strings[saved] ? saved : strings[nav] ? nav : "zh";
    if (fromLink && strings[fromLink]) this.save();
  }
  I18n.prototype.save = function () {
    try { localStorage.setItem("onewindow.lang", this.lang); } catch (e) { /* ignore */ }
  };
  I18n.prototype.set = function (lang) { if (this.strings[lang]) { this.lang = lang; this.save(); } };
  I18n.prototype.raw = function (key) {
    var v = get(this.strings[this.lang], key);
    return v === undefined ? get(this.strings.zh, key) : v;
  };
  I18n.prototype.t = function (key, vars) {
    var tpl = (vars && vars.n === 1 && get(this.strings[this.lang], key + "_one")) || this.raw(key);
    if (tpl == null) return "";
    return String(tpl).replace(/\{(\w+)\}/g, function (m, k) { return vars && vars[k] != null ? vars[k] : m; });
  };
  I18n.prototype.date = function (iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
    if (!m) return iso || "—";
    var months = this.raw("months") || [];
    return this.t("date", { y: +m[1], m: +m[2], d: +m[3], mon: months[+m[2] - 1] || m[2] });
  };
  /** Puts a name from the hall's catalogue into el: the visitor's language, or the Chinese marked as Chinese
   * (a small tag) where the hall has no translation yet — never passed off as a translation. */
  I18n.prototype.name = function (el, names, zh) {
    el.textContent = "";
    var own = names && names[this.lang];
    if (this.lang === "zh" || own || !zh) { el.textContent = own || zh || ""; return; }
    var span = document.createElement("span");
    span.className = "zh-fallback";
    span.lang = "zh-CN";
    span.textContent = zh;
    var tag = document.createElement("small");
    tag.className = "zh-tag";
    tag.textContent = this.raw("in_chinese") || "中文";
    span.appendChild(tag);
    el.appendChild(span);
  };
  /** Fills [data-i18n="key"] elements, sets <html lang> and the language buttons. */
  I18n.prototype.apply = function () {
    var self = this;
    document.documentElement.lang = this.lang === "zh" ? "zh-CN" : this.lang;
    document.querySelectorAll("[data-i18n]").forEach(function (e) {
      var v = self.raw(e.dataset.i18n);
      if (typeof v === "string") e.textContent = v;
    });
    document.querySelectorAll(".tr-lang button").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.lang === self.lang));
    });
  };
  window.OneWindowI18n = I18n;
})();
