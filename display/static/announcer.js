/* Offline voice calls: concatenated recorded clips played through Web Audio, one announcement at a time.
 *
 * announce("A001", 3) queues the call `repeat` times (each time in every configured language, e.g. zh then bo);
 * a queue makes sure announcements never overlap. Clips come from /display/voice/<lang>/<clip>.wav and are
 * decoded once and kept. A clip set that lacks a clip is skipped for that call (and logged), never half-played.
 *
 * Instrumentation for tests and for the technician's console:
 *   window.__voiceLog  — one entry per announcement as it starts: {number, window, lang, rep, clips, at, end,
 *                        played (false when the audio was blocked and nothing was heard)}
 *   window.__clipLog   — every clip URL fetched, in order */
(function (root) {
  "use strict";
  root.__voiceLog = root.__voiceLog || [];
  root.__clipLog = root.__clipLog || [];

  function Announcer(opts) {
    this.base = (opts.base || "/display/voice/").replace(/\/?$/, "/");
    this.languages = opts.languages || ["zh"];
    this.repeat = opts.repeat || 2;
    this.gapMs = opts.gapMs === undefined ? 700 : opts.gapMs;
    this.queue = [];
    this.busy = false;
    this.buffers = {};
    this.ctx = null;
    this.onStart = opts.onStart || null;
    this.onBlocked = opts.onBlocked || null;
  }

  Announcer.prototype.audio = function () {
    if (!this.ctx) {
      var AC = root.AudioContext || root.webkitAudioContext;
      this.ctx = AC ? new AC() : null;
    }
    if (this.ctx && this.ctx.state === "suspended") this.ctx.resume().then(function () {}, function () {});
    return this.ctx;
  };

  Announcer.prototype.unlock = function () {
    this.audio();
  };

  Announcer.prototype.announce = function (number, windowNumber) {
    if (!this.languages.length) return;
    for (var rep = 1; rep <= this.repeat; rep++) {
      for (var i = 0; i < this.languages.length; i++) {
        this.queue.push({ number: number, window: windowNumber, lang: this.languages[i], rep: rep });
      }
    }
    this.pump();
  };

  Announcer.prototype.load = function (lang, clip) {
    var url = this.base + encodeURIComponent(lang) + "/" + encodeURIComponent(clip) + ".wav";
    var self = this;
    if (!this.buffers[url]) {
      root.__clipLog.push(url);
      this.buffers[url] = fetch(url).then(function (r) {
        if (!r.ok) throw new Error(url + ": HTTP " + r.status);
        return r.arrayBuffer();
      }).then(function (bytes) {
        var ctx = self.audio();
        return ctx ? ctx.decodeAudioData(bytes) : null;
      });
      this.buffers[url].catch(function () { delete self.buffers[url]; });  // retry next time (e.g. recorded since)
    }
    return this.buffers[url];
  };

  Announcer.prototype.pump = function () {
    var self = this;
    if (this.busy || !this.queue.length) return;
    this.busy = true;
    var item = this.queue.shift();
    var clips;
    try {
      clips = root.OneWindowVoice.clipSequence(item.number, item.window, item.lang);
    } catch (e) {
      if (root.console) console.warn("cannot announce", item, e);
      this.busy = false;
      return this.pump();
    }
    Promise.all(clips.map(function (c) { return self.load(item.lang, c); })).then(function (buffers) {
      var entry = { number: item.number, window: item.window, lang: item.lang, rep: item.rep, clips: clips,
                    at: Date.now(), end: null };
      root.__voiceLog.push(entry);
      if (self.onStart) self.onStart(item);
      return self.play(buffers).then(function (played) { entry.end = Date.now(); entry.played = played; });
    }).catch(function (e) {
      root.__voiceLog.push({ number: item.number, window: item.window, lang: item.lang, rep: item.rep,
                             clips: clips, at: Date.now(), error: String(e && e.message || e) });
    }).then(function () {
      return new Promise(function (res) { setTimeout(res, self.gapMs); });
    }).then(function () {
      self.busy = false;
      self.pump();
    });
  };

  // Schedules the buffers back to back on the audio clock; resolves when the last one ends.
  Announcer.prototype.play = function (buffers) {
    var ctx = this.audio();
    var total = 0;
    buffers.forEach(function (b) { if (b) total += b.duration; });
    if (!ctx || ctx.state !== "running") {
      // no audio (autoplay blocked, no device): keep the pace, play nothing, so nothing piles up to overlap later
      if (this.onBlocked) this.onBlocked(true);
      return new Promise(function (res) { setTimeout(function () { res(false); }, total * 1000); });
    }
    if (this.onBlocked) this.onBlocked(false);
    return new Promise(function (resolve) {
      var t = ctx.currentTime + 0.05, last = null, done = false;
      function finish() { if (!done) { done = true; resolve(true); } }
      buffers.forEach(function (b) {
        if (!b) return;
        var src = ctx.createBufferSource();
        src.buffer = b;
        src.connect(ctx.destination);
        src.start(t);
        t += b.duration;
        last = src;
      });
      if (last) last.onended = finish;
      // safety net: a suspended or silent audio device must not stall the queue
      setTimeout(finish, (total + 0.5) * 1000);
    });
  };

  root.OneWindowAnnouncer = Announcer;
})(window);
