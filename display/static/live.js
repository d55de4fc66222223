/* Live feed for the public screens over Socket.IO.
 *
 * Hall mode (contiguous: true) — the hall room receives every public event of the hall, each carrying `prev`,
 * the seq of the hall's previous public event (staff-only and device events skip the hall room, so seq alone
 * has holes): the feed keeps the last seq, applies events strictly in order, and on a gap (`prev` beyond the
 * last seq it knows, or after a reconnect)
 * asks the server for what it missed (`resync` {since}, or `subscribe` with `since`), applies that in order, and
 * falls back to a fresh snapshot when the server cannot fill the gap (too many events, a reset database).
 *
 * Room mode (contiguous: false) — window and ticket rooms see a subset of events (seq jumps are normal): on every
 * (re)connect the page reloads its state (onConnected) and then follows the events it receives.
 *
 * While disconnected the page shows a "正在重新连接 / reconnecting" banner and dims its content, so nobody reads
 * a stale screen as current. */
(function (root) {
  "use strict";

  function LiveFeed(opts) {
    this.opts = opts;
    this.seq = null;          // last applied seq (hall mode)
    this.syncing = false;
    this.pending = [];        // live events received while syncing
    this.connectedOnce = false;
    this.socket = null;
    this.stats = { resyncs: 0, snapshots: 0, gaps: 0, reconnects: 0 };
  }

  LiveFeed.prototype.start = function () {
    var self = this;
    var socket = (this.socket = root.io({
      transports: ["websocket", "polling"],
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 2000,
      randomizationFactor: 0.3,
      timeout: 5000,
    }));
    this.status("connecting");
    socket.on("connect", function () {
      if (self.connectedOnce) self.stats.reconnects += 1;
      self.connectedOnce = true;
      self.sync(false);
    });
    socket.on("disconnect", function () {
      self.syncing = false;
      self.pending = [];
      self.status("disconnected");
    });
    socket.on("connect_error", function () { self.status("disconnected"); });
    socket.onAny(function (type, payload) { self.receive(type, payload); });
    // Cheap safety net: a lost trailing event has no later event to reveal the gap.
    setInterval(function () {
      if (!socket.connected || self.syncing) return;
      if (self.opts.contiguous) self.resync();
      else if (self.opts.onConnected) Promise.resolve(self.opts.onConnected(null)).catch(function () {});
    }, this.opts.checkEveryMs || 30000);
    return this;
  };

  LiveFeed.prototype.status = function (state) {
    this.state = state;
    if (this.opts.onStatus) this.opts.onStatus(state);
  };

  LiveFeed.prototype.sync = function (fresh) {
    var self = this, opts = this.opts;
    this.syncing = true;
    this.pending = [];
    this.status(this.connectedOnce && this.seq !== null ? "resyncing" : "connecting");
    var sub = Object.assign({}, opts.subscription);
    if (opts.contiguous && !fresh && this.seq !== null) sub.since = this.seq;
    this.socket.timeout(10000).emit("subscribe", sub, function (err, ack) {
      if (err || !ack || !ack.ok) {
        if (root.console) console.warn("subscribe failed", err || ack);
        self.syncing = false;
        self.status("disconnected");
        setTimeout(function () { if (self.socket.connected) self.sync(true); }, 2000);
        return;
      }
      if (!opts.contiguous) {
        Promise.resolve(opts.onConnected ? opts.onConnected(ack) : null).then(function () {
          self.syncing = false;
          var queued = self.pending;
          self.pending = [];
          queued.forEach(function (ev) { opts.onEvent(ev.type, ev.payload, false); });
          self.status("live");
        }, function (e) {
          if (root.console) console.warn("initial state failed", e);
          self.syncing = false;
          setTimeout(function () { if (self.socket.connected) self.sync(true); }, 2000);
        });
        return;
      }
      if (ack.snapshot) {
        self.stats.snapshots += 1;
        self.seq = ack.seq;
        opts.onSnapshot(ack.snapshot);
      } else {
        self.applyBatch(ack.events || []);
        if (ack.seq > self.seq) self.seq = ack.seq;
      }
      self.finishSync();
    });
  };

  LiveFeed.prototype.resync = function () {
    var self = this;
    if (!this.opts.contiguous || this.seq === null || this.syncing) return;
    this.syncing = true;
    this.stats.resyncs += 1;
    this.socket.timeout(10000).emit("resync", { since: this.seq }, function (err, ack) {
      if (err || !ack || !ack.ok || !ack.complete || ack.reset) {
        self.syncing = false;
        if (self.socket.connected) self.sync(true);  // cannot fill the gap: start from a fresh snapshot
        return;
      }
      self.applyBatch(ack.events || []);
      if (ack.seq > self.seq) self.seq = ack.seq;
      self.finishSync();
    });
  };

  LiveFeed.prototype.finishSync = function () {
    this.syncing = false;
    var queued = this.pending;
    this.pending = [];
    this.status("live");
    for (var i = 0; i < queued.length; i++) this.receive(queued[i].type, queued[i].payload);
  };

  // Missed events, in order; the page decides what a replay means (e.g. do not announce stale calls).
  LiveFeed.prototype.applyBatch = function (events) {
    var fresh = [];
    for (var i = 0; i < events.length; i++) {
      var ev = events[i];
      if (this.seq === null || ev.seq > this.seq) {
        fresh.push({ type: ev.type, payload: ev.payload });
        this.seq = ev.seq;
      }
    }
    if (fresh.length && this.opts.onBatch) this.opts.onBatch(fresh);
    else for (var j = 0; j < fresh.length; j++) this.opts.onEvent(fresh[j].type, fresh[j].payload, true);
  };

  LiveFeed.prototype.receive = function (type, payload) {
    if (!payload || typeof payload !== "object") return;
    if (this.syncing) { this.pending.push({ type: type, payload: payload }); return; }
    if (!this.opts.contiguous) { this.opts.onEvent(type, payload, false); return; }
    var seq = payload.seq;
    if (typeof seq !== "number" || this.seq === null) return;
    if (seq <= this.seq) return;                 // already applied (a resync delivered it first)
    var prev = typeof payload.prev === "number" ? payload.prev : seq - 1;
    if (prev > this.seq) {                       // a gap: fetch what is missing, then carry on in order
      this.stats.gaps += 1;
      this.resync();                             // sets syncing: this event waits in pending
      this.pending.push({ type: type, payload: payload });
      return;
    }
    this.seq = seq;
    this.opts.onEvent(type, payload, false);
    if (type === "day_rolled_over") this.sync(true);
  };

  /* The banner every screen shares. */
  function bindBanner(feed, bannerEl, bodyEl) {
    var timer = null;
    return function (state) {
      bodyEl.dataset.live = state;
      var offline = state === "disconnected" || state === "connecting";
      clearTimeout(timer);
      if (offline) {
        // a blink of a reconnect does not flash the banner; anything longer does
        timer = setTimeout(function () { bannerEl.hidden = false; bodyEl.classList.add("offline"); }, 600);
      } else if (state === "live") {
        bannerEl.hidden = true;
        bodyEl.classList.remove("offline");
      }
    };
  }

  /* After a reconnect, reload the page if the server now serves other screen code (an upgrade). */
  function reloadIfUpgraded(version) {
    fetch("/display/version", { cache: "no-store" }).then(function (r) { return r.json(); }).then(function (v) {
      if (v.asset_version && v.asset_version !== version) root.location.reload();
    }).catch(function () {});
  }

  root.OneWindowLive = { LiveFeed: LiveFeed, bindBanner: bindBanner, reloadIfUpgraded: reloadIfUpgraded };
})(window);
