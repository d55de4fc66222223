"""Routes of the public screens: the hall screen, the window-top screen, the phone tracker, and the voice clips.

Screens are static pages plus a little JSON of public configuration; everything live comes over Socket.IO
(``subscribe`` / ``resync``) and the public REST API. Nothing here changes a ticket.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import abort, current_app, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue

from queue_server.domain.errors import NotFound
from queue_server.services import tickets

from . import bp
from .voice import CLIP_RE, LANGUAGES, ClipSet, complete_languages, default_voice_dir, load_clip_sets

STATIC = Path(__file__).resolve().parent / "static"
TEMPLATES = Path(__file__).resolve().parent / "templates"


def _asset_version() -> str:
    """Changes when any screen file changes, so a screen that reconnects to an upgraded server reloads itself."""
    h = hashlib.sha256()
    for base in (STATIC, TEMPLATES):
        for p in sorted(base.rglob("*")):
            if p.is_file() and p.suffix in (".js", ".css", ".html"):
                h.update(p.name.encode())
                h.update(p.read_bytes())
    return h.hexdigest()[:12]


ASSET_VERSION = _asset_version()


def _ctx() -> Any:
    return current_app.extensions["onewindow"]


def _names(n: Any) -> dict[str, str | None]:
    return {"zh": n.zh, "en": n.en, "bo": n.bo} if n is not None else {"zh": None, "en": None, "bo": None}


def _voice_dirs() -> list[Path]:
    settings = current_app.extensions.get("onewindow.settings")
    dirs = []
    if settings is not None and getattr(settings, "config_path", None):
        dirs.append(Path(settings.config_path).resolve().parent / "voice")  # the hall's own recordings first
    dirs.append(default_voice_dir())
    return dirs


def _clip_sets() -> dict[str, ClipSet]:
    return load_clip_sets(*_voice_dirs())


def _staff(window: Any) -> dict[str, Any] | None:
    """Staff name and photo for a window-top screen, when the hall config has them (it has no such field yet:
    the screen then shows the window's name and keeps the place)."""
    staff = getattr(window, "staff", None)
    if staff is None:
        return None
    name = staff if isinstance(staff, str) else getattr(staff, "name", None)
    photo = None if isinstance(staff, str) else getattr(staff, "photo", None)
    return {"name": name, "photo": url_for("display.staff_photo", window_id=window.id) if photo else None}


def page_texts(*sections: str) -> dict[str, dict[str, Any]]:
    """The texts of these sections of config/i18n (read once at start), per language (Chinese where a translation
    is missing)."""
    from queue_server.i18n import page_strings

    return page_strings(_ctx().citizen_texts().catalogue, *sections)


def _public_config(site: str | None = None) -> dict[str, Any]:
    cfg = _ctx().config
    return {
        "hall": {"id": cfg.hall.id, "name": _names(cfg.hall.name), "timezone": cfg.hall.timezone,
                 "notice": _names(cfg.hall.notice) if cfg.hall.notice else None},
        "sample_data": cfg.sample_data,
        "sites": [{"id": s.id, "name": _names(s.name)} for s in cfg.sites],
        "site": site,
        "zones": [{"id": z.id, "site": z.site, "name": _names(z.name)} for z in cfg.zones],
        "queues": [{"id": q.id, "prefix": q.prefix, "zone": q.zone, "name": _names(q.name)} for q in cfg.queues],
        "windows": [{"id": w.id, "number": w.number, "zone": w.zone, "name": _names(w.name)} for w in cfg.windows],
        "asset_version": ASSET_VERSION,
    }


@bp.get("/display/")
def index() -> ResponseReturnValue:
    cfg = _ctx().config
    return render_template("display/index.html", cfg=cfg, v=ASSET_VERSION)


def _with_fallback(requested: list[str], sets: dict[str, ClipSet]) -> tuple[list[str], dict[str, str]]:
    """A language whose clip set is not complete yet (Tibetan until the hall records it) is announced in Chinese
    instead, so the screen never asks for a clip that does not exist."""
    langs: list[str] = []
    fallback: dict[str, str] = {}
    for lang in requested:
        ready = lang in sets and not sets[lang].missing(sets)
        use = lang if ready else "zh"
        if use != lang:
            fallback[lang] = use
        if use not in langs:
            langs.append(use)
    return langs, fallback


@bp.get("/display/hall")
def hall() -> ResponseReturnValue:
    """The hall TV (1920×1080). Query: site=<id> (default the first site), voice=zh,bo | off, repeat=2."""
    cfg = _ctx().config
    site = request.args.get("site") or cfg.sites[0].id
    if site not in {s.id for s in cfg.sites}:
        abort(404, f"no site {site!r}")
    sets = _clip_sets()
    voice_arg = request.args.get("voice")
    fallback: dict[str, str] = {}
    if voice_arg is None:
        langs = complete_languages(sets)
    elif voice_arg in ("off", "none", ""):
        langs = []
    else:
        langs, fallback = _with_fallback([v for v in voice_arg.split(",") if v in LANGUAGES], sets)
    try:
        repeat = max(1, min(3, int(request.args.get("repeat", "2"))))
    except ValueError:
        repeat = 2
    data = _public_config(site)
    data["voice"] = {"languages": langs, "repeat": repeat, "base": url_for("display.voice_base"),
                     "fallback": fallback}
    data["show_names"] = request.args.get("names") == "1"
    data["i18n"] = page_texts("hall")
    return render_template("display/hall.html", data=data, cfg=cfg, v=ASSET_VERSION)


@bp.get("/display/window/<window_id>")
def window(window_id: str) -> ResponseReturnValue:
    cfg = _ctx().config
    try:
        w = cfg.window(window_id)
    except KeyError:
        abort(404, f"no window {window_id!r}")
    data = _public_config()
    data["window"] = {"id": w.id, "number": w.number, "name": _names(w.name), "staff": _staff(w)}
    return render_template("display/window.html", data=data, w=w, cfg=cfg, v=ASSET_VERSION)


@bp.get("/t/<token>")
def tracker(token: str) -> ResponseReturnValue:
    """The phone tracker behind the ticket's QR: this ticket only, read-only."""
    ctx = _ctx()
    found = True
    if len(token) > 64:
        found = False
    else:
        try:
            tickets.track(ctx, token)
        except NotFound:
            found = False
    data = _public_config()
    data["token"] = token if found else None
    data["i18n"] = page_texts("tracker")
    resp = current_app.make_response(
        (render_template("display/tracker.html", data=data, cfg=ctx.config, v=ASSET_VERSION, found=found),
         200 if found else 404))
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Robots-Tag"] = "noindex"
    return resp


@bp.get("/display/hours")
def hours() -> ResponseReturnValue:
    """Whether tickets are issued now and when next (public: the hall's opening hours)."""
    from queue_server.services.hours import open_status

    return open_status(_ctx())


@bp.get("/display/version")
def version() -> ResponseReturnValue:
    return {"asset_version": ASSET_VERSION}


@bp.get("/display/voice/", endpoint="voice_base")
def voice_status() -> ResponseReturnValue:
    """Which clip sets exist, which are complete, which the hall screen announces in by default."""
    sets = _clip_sets()
    return {
        "default": complete_languages(sets),
        "languages": {
            lang: {"name": s.manifest.get("name"), "enabled": s.enabled, "missing": s.missing(sets)}
            for lang, s in sets.items()
        },
    }


@bp.get("/display/voice/<lang>/manifest.json")
def voice_manifest(lang: str) -> ResponseReturnValue:
    s = _clip_sets().get(lang)
    if s is None:
        abort(404)
    return s.manifest


@bp.get("/display/voice/<lang>/<clip>.wav")
def voice_clip(lang: str, clip: str) -> ResponseReturnValue:
    sets = _clip_sets()
    if lang not in sets or not CLIP_RE.match(clip):
        abort(404)
    path = sets[lang].clip_path(clip, sets)
    if path is None:
        abort(404)
    return send_file(path, mimetype="audio/wav", max_age=3600)


@bp.get("/display/staff-photo/<window_id>")
def staff_photo(window_id: str) -> ResponseReturnValue:
    """A window's staff photo from the hall config folder (``photos/<file>``), when the config names one."""
    try:
        w = _ctx().config.window(window_id)
    except KeyError:
        abort(404)
    staff = getattr(w, "staff", None)
    photo = getattr(staff, "photo", None) if staff is not None and not isinstance(staff, str) else None
    if not photo:
        abort(404)
    settings = current_app.extensions.get("onewindow.settings")
    base = Path(settings.config_path).resolve().parent if settings and settings.config_path else None
    from config import CONFIG_DIR

    for root in [b for b in (base, CONFIG_DIR) if b is not None]:
        p = (root / "photos" / Path(str(photo)).name).resolve()
        if p.is_file() and p.parent == (root / "photos").resolve():
            return send_file(p, max_age=3600)
    abort(404)
