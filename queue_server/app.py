"""The application factory: config, database, services context, blueprints and Socket.IO bound together."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider
from sqlalchemy.exc import DBAPIError

from .case_config import load_case_settings
from .clock import OffsetClock, SystemClock
from .cookie_sessions import VerifiedCookieSessions
from .domain.calling import DefaultCallingPolicy
from .domain.search import release_dictionaries
from .extensions import socketio
from .hall_config import load_calendar, load_hall, load_stations
from .i18n import load_texts
from .kiosk_config import load_kiosk
from .services.alerts import AlertWatch
from .services.context import HallContext
from .services.events import deliveries
from .services.rollover import roll_over
from .services.staff import LoginGuard
from .services.stats import StatsCoalescer
from .settings import ASYNC_MODES, Settings
from .store.db import check_connection, ensure_hall, make_engine, migrate, start_failure
from .store.hall_locks import alone_on_hall

log = logging.getLogger("onewindow")


class SocketIOPublisher:
    """Sends committed events to their rooms (through the message queue when several processes serve a hall)."""

    def __init__(self) -> None:
        self.server: Any = None  # the Socket.IO server of this app, bound once it exists
        self.listeners: list[Any] = []  # called with each committed batch (e.g. the alert rules' wake-up)
        self.live: Any = None  # the public live stream's delivery (realtime/live.py), bound with the server

    def publish(self, events: list[dict[str, Any]]) -> None:
        if self.live is not None:  # the public screens first: thousands of them wait for a call
            self.live(events)
        for ev in events:
            for rooms, payload in deliveries(ev):
                self.server.emit(ev["type"], payload, to=rooms, namespace="/")
        for listener in self.listeners:
            listener(events)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings()
    if settings.async_mode not in ASYNC_MODES:
        raise ValueError(f"async mode {settings.async_mode!r} is not supported; use one of {', '.join(ASYNC_MODES)}")
    config = load_hall(settings.config_path)
    calendar = load_calendar(settings.calendar_path)
    stations = load_stations(config, settings.config_path, settings.devices_path)
    texts = load_texts()
    kiosk = load_kiosk(config, texts, settings.config_path)
    case_settings = load_case_settings(config, settings.config_path, settings.cases_path)
    engine = make_engine(settings.database, synchronous=settings.sqlite_synchronous)
    if settings.message_queue is None:
        alone_on_hall(engine)
    check_connection(engine)
    try:
        migrate(engine)
        ensure_hall(engine, config.hall.id)
    except DBAPIError as exc:  # read-only, immutable, full, damaged: one line naming it, no traceback
        raise start_failure(engine, exc) from exc

    app = Flask(__name__)
    app.session_interface = VerifiedCookieSessions()
    app.config["SECRET_KEY"] = settings.resolve_secret_key()
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings.secure_cookies
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # a window panel stays open all day
    app.config["TESTING"] = settings.testing
    assert isinstance(app.json, DefaultJSONProvider)  # Flask's own, unless an extension replaced it
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    publisher = SocketIOPublisher()
    clock = OffsetClock(settings.clock_start, settings.clock_speed) if settings.clock_start else SystemClock()
    ctx = HallContext(
        config=config,
        engine=engine,
        clock=clock,
        policy=DefaultCallingPolicy(config.calling),
        calendar=calendar,
        publisher=publisher,
        person_secret=settings.resolve_person_secret(),
        always_open=settings.always_open,
        stations=stations,
        kiosk=kiosk,
        texts=texts,
        case_settings=case_settings,
    )
    if settings.stats_interval > 0 and settings.background_tasks:
        ctx.stats = StatsCoalescer(ctx, settings.stats_interval)
    app.extensions["onewindow"] = ctx
    app.extensions["onewindow.settings"] = settings
    app.extensions["onewindow.login_guard"] = LoginGuard()  # failed logins of unknown names and per client
    if settings.secure_cookies:
        app.after_request(_hsts)

    from display import bp as display_bp
    from kiosk import bp as kiosk_bp

    from .api import bp as api_bp
    from .api.bounds import register_converters
    from .auth import enforce_route
    from .backoffice import bp as backoffice_bp
    from .pages import bp as pages_bp
    from .realtime.live import bp as live_bp

    app.before_request(enforce_route)
    register_converters(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(display_bp)
    app.register_blueprint(kiosk_bp)
    app.register_blueprint(backoffice_bp)
    app.register_blueprint(live_bp)
    release_dictionaries()  # the kiosk's search index is built (load_kiosk above)

    queue_options: dict[str, Any] = {"message_queue": settings.message_queue}
    if settings.message_queue and settings.message_queue.startswith(("redis://", "rediss://")):
        from .message_queue import BoundedRedisManager

        manager = BoundedRedisManager(settings.message_queue)
        queue_options = {"client_manager": manager}
        app.extensions["onewindow.message_queue"] = manager.health
    socketio.init_app(
        app,
        async_mode=settings.async_mode,
        **queue_options,
        # None: same origin only (python-engineio compares Origin with the Host header); clients without an
        # Origin header (device agents, tests) are not browsers and are let through.
        cors_allowed_origins=settings.allowed_origins,
        ping_interval=10,
        ping_timeout=10,
    )
    publisher.server = socketio.server
    from .realtime.handlers import register

    register(socketio)
    _bind_live(app, socketio.server, publisher, settings.background_tasks)

    roll_over(ctx)
    watch = AlertWatch(ctx)
    app.extensions["onewindow.alerts"] = watch
    if settings.background_tasks:
        socketio.start_background_task(_rollover_loop, ctx)
        publisher.listeners.append(watch.notify)
        socketio.start_background_task(watch.run, socketio.sleep)
        if ctx.stats is not None:
            socketio.start_background_task(ctx.stats.run, socketio.sleep)
    return app


def _bind_live(app: Flask, server: Any, publisher: SocketIOPublisher, background: bool) -> None:
    """The public live stream (realtime/live.py): its hub, its route, and the publisher's hook to it."""
    from .realtime.live import LIVE_EVENT, LiveHub, live_batch, relay_through

    hub = LiveHub(app.extensions["onewindow"].hall_id, socketio.start_background_task)
    app.extensions["onewindow.live"] = hub
    if relay_through(server.manager, hub):  # several processes: each batch once through the message queue
        publisher.live = lambda events: server.emit(LIVE_EVENT, live_batch(events), to=LIVE_EVENT, namespace="/")
        if background and not server.manager_initialized:
            # python-socketio starts listening to the queue at its first Socket.IO client; a process serving only
            # live screens has none and would never hear the other processes' batches.
            server.manager_initialized = True
            server.manager.initialize()
    else:
        publisher.live = hub.deliver
    if background:
        socketio.start_background_task(hub.run_heartbeat, socketio.sleep)


def _hsts(response: Response) -> Response:
    """Behind HTTPS (--secure-cookies): browsers keep to HTTPS for a year, so a login cookie never goes out clear."""
    response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _rollover_loop(ctx: HallContext) -> None:
    while True:
        socketio.sleep(30)
        try:
            roll_over(ctx)
        except Exception:  # keep the loop alive; the next round tries again
            log.exception("day roll-over failed")
