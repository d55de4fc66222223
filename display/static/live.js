/* Live feed for the public screens: the server's public live stream, a plain WebSocket (GET /live?room=…,
 * queue_server/realtime/live.py), plus REST for the state to start from and for anything missed.
 *
 * The stream sends one frame per committed write — {"events": [{type, payload}, …]} — and a heartbeat
 * {"hb": seq} every 10 s. The feed opens the socket FIRST and then reads its state over REST, so every event
 * committed after that state arrives on the socket (events that arrive while it is reading wait their turn).
 *
 * Hall mode (contiguous: true) — the hall stream carries every public event of the hall, each with `prev`, the
 * seq of the hall's previous public event (staff-only and device events are not public, so seq alone has holes):
 * the feed keeps the last seq, applies events strictly in order, and on a gap (`prev` beyond the last seq it knows,
 * a heartbeat beyond it, or after a reconnect) reads what it missed from /api/v1/events?since=, and falls back to a
 * fresh /api/v1/snapshot when the server cannot fill the gap (too many events, a reset database).
 *
 * Room mode (contiguous: false) — a window's or a queue's stream sees a subset of events (seq jumps are normal): on
 * every (re)connect the page reloads its state (onConnected) and then follows the events it receives.
 *
 * While disconnected the page shows a "正在重新连接 / reconnecting" banner and dims its content, so nobody reads
 * a stale screen as current. */
(function (root) {
  "use strict";

  var HEARTBEAT_MS = 10000;

  function getJson(url) {
    return fetch(url, { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error(url + ": HTTP " + r.status);
      return r.json();
    });
  }

  function LiveFeed(opts) {
    this.opts = opts;         // stream: "hall" | "window:<id>" | "queue:<id>"; hallId; contiguous; on…
    this.seq = null;          // last applied seq (hall mode)
    this.syncing = false;
    this.pending = [];        // live events received while syncing
    this.connectedOnce = false;
    this.connected = false;
    this.ws = null;
    this.generation = 0;      // bumped on every (re)connect: answers for an older connection are dropped
    this.retryMs = 500;
    this.stats = { resyncs: 0, snapshots: 0, gaps: 0, reconnects: 0 };
  }

  LiveFeed.prototype.start = function () {
    var self = this;
    this.status("connecting");
    this.open();
    // Cheap safety net: a lost trailing event has no later event to reveal it, and a heartbeat only knows what
    // reached this process (with several processes, a batch the message queue failed to relay never does).
    setInterval(function () {
      if (!self.connected || self.syncing) return;
      if (self.opts.contiguous) self.resync();
      else if (self.opts.onConnected) Promise.resolve(self.opts.onConnected(null)).catch(function () {});
    }, this.opts.checkEveryMs || 30000);
    return this;
  };

  LiveFeed.prototype.url = function () {
    var room = this.opts.stream || "hall";
    return (root.location.protocol === "https:" ? "wss://" : "ws://") + root.location.host + "/live" +
      (room === "hall" ? "" : "?room=" + encodeURIComponent(room));
  };

  // The hall room's log by name: a browser with a staff login would otherwise get the staff room's.
  LiveFeed.prototype.missedUrl = function () {
    return "/api/v1/events?since=" + this.seq +
      (this.opts.hallId ? "&rooms=" + encodeURIComponent("hall:" + this.opts.hallId) : "");
  };

  LiveFeed.prototype.open = function () {
    var self = this;
    var gen = ++this.generation;
    var ws = (this.ws = new root.WebSocket(this.url()));
    var lastFrame = Date.now();
    var watchdog = setInterval(function () {
      // No frame for 2.5 heartbeats: the network is gone without a close (Wi-Fi dropped); start over.
      if (Date.now() - lastFrame > HEARTBEAT_MS * 2.5) lost();
    }, HEARTBEAT_MS / 2);
    function lost() {
      if (gen !== self.generation) return;
      clearInterval(watchdog);
      ws.onclose = ws.onmessage = ws.onerror = null;
      try { ws.close(); } catch (e) { /* already closing */ }
      self.generation += 1;
      self.connected = false;
      self.syncing = false;
      self.pending = [];
      self.status("disconnected");
      var wait = self.retryMs * (0.7 + Math.random() * 0.6);
      self.retryMs = Math.min(self.retryMs * 2, 2000);
      setTimeout(function () { self.open(); }, wait);
    }
    ws.onopen = function () {
      if (gen !== self.generation) return;
      lastFrame = Date.now();
      self.retryMs = 500;
      if (self.connectedOnce) self.stats.reconnects += 1;
      self.connectedOnce = true;
      self.connected = true;
      self.sync(false);
    };
    ws.onmessage = function (m) {
      if (gen !== self.generation) return;
      lastFrame = Date.now();
      var msg;
      try { msg = JSON.parse(m.data); } catch (e) { return; }
      if (msg.events) {
        for (var i = 0; i < msg.events.length; i++) self.receive(msg.events[i].type, msg.events[i].payload);
      } else if (typeof msg.hb === "number") {
        self.heartbeat(msg.hb);
      }
    };
    ws.onclose = lost;
    ws.onerror = function () { /* onclose follows */ };
  };

  /* Change the stream (a tracked ticket moved to another queue): reconnect to the new room. */
  LiveFeed.prototype.follow = function (stream) {
    if (stream === this.opts.stream) return;
    this.opts.stream = stream;
    if (this.ws && this.ws.onclose) this.ws.onclose();
  };

  LiveFeed.prototype.status = function (state) {
    this.state = state;
    if (this.opts.onStatus) this.opts.onStatus(state);
  };

  LiveFeed.prototype.sync = function (fresh) {
    var self = this, opts = this.opts, gen = this.generation;
    this.syncing = true;
    this.pending = [];
    this.status(this.connectedOnce && this.seq !== null ? "resyncing" : "connecting");
    function failed(e) {
      if (gen !== self.generation) return;
      if (root.console) console.warn("initial state failed", e);
      self.syncing = false;
      self.status("disconnected");
      setTimeout(function () { if (gen === self.generation) self.sync(true); }, 2000);
    }
    if (!opts.contiguous) {
      Promise.resolve(opts.onConnected ? opts.onConnected(null) : null).then(function () {
        if (gen === self.generation) self.finishSync();
      }, failed);
      return;
    }
    if (!fresh && this.seq !== null) {
      getJson(this.missedUrl()).then(function (missed) {
        if (gen !== self.generation) return;
        if (!missed.complete || missed.reset) { self.syncing = false; self.sync(true); return; }
        self.applyBatch(missed.events || []);
        if (missed.seq > self.seq) self.seq = missed.seq;
        self.finishSync();
      }, failed);
      return;
    }
    getJson("/api/v1/snapshot").then(function (snap) {
      if (gen !== self.generation) return;
      self.stats.snapshots += 1;
      self.seq = snap.seq;
      opts.onSnapshot(snap);
      self.finishSync();
    }, failed);
  };

  LiveFeed.prototype.resync = function () {
    var self = this, gen = this.generation;
    if (!this.opts.contiguous || this.seq === null || this.syncing) return;
    this.syncing = true;
    this.stats.resyncs += 1;
    getJson(this.missedUrl()).then(function (missed) {
      if (gen !== self.generation) return;
      if (!missed.complete || missed.reset) {  // cannot fill the gap: start from a fresh snapshot
        self.syncing = false;
        self.sync(true);
        return;
      }
      self.applyBatch(missed.events || []);
      if (missed.seq > self.seq) self.seq = missed.seq;
      self.finishSync();
    }, function () {
      if (gen !== self.generation) return;
      self.syncing = false;
      setTimeout(function () { self.resync(); }, 2000);
    });
  };

  LiveFeed.prototype.heartbeat = function (lastPublic) {
    // The stream's last public event is beyond ours: a trailing event was lost (no later one revealed it).
    if (this.opts.contiguous && this.seq !== null && !this.syncing && lastPublic > this.seq) this.resync();
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
