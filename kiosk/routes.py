"""Routes of the kiosk page: the page itself (with its translations), QR images, and the asset version.

Nothing here changes anything: tickets, check-ins and prints go through the REST API under /api/v1/kiosk.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import qrcode
import qrcode.image.svg
from flask import abort, current_app, render_template, request
from flask.typing import ResponseReturnValue

from . import bp

STATIC = Path(__file__).resolve().parent / "static"
TEMPLATES = Path(__file__).resolve().parent / "templates"
LANGUAGES = ("zh", "bo", "en")
STATION_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def _asset_version() -> str:
    """Changes when any page file changes, so a kiosk that reconnects to an upgraded server reloads itself."""
    h = hashlib.sha256()
    for base in (STATIC, TEMPLATES):
        for p in sorted(base.rglob("*")):
            if p.is_file() and p.suffix in (".js", ".css", ".html", ".json"):
                h.update(p.name.encode())
                h.update(p.read_bytes())
    return h.hexdigest()[:12]


ASSET_VERSION = _asset_version()


@functools.cache  # shipped with the page (not hall configuration), like the asset version: read once
def translations() -> dict[str, dict[str, str]]:
    return {lang: json.loads((STATIC / "i18n" / f"{lang}.json").read_text(encoding="utf-8")) for lang in LANGUAGES}


@bp.get("/")
def page() -> ResponseReturnValue:
    """The kiosk. Query: station=<the PC's station in devices.toml> (default kiosk-1), lang=zh|bo|en, and for
    demos and tests idle=<seconds> (a shorter idle timeout than config/flows.yaml's)."""
    station = request.args.get("station", "kiosk-1")
    if not STATION_RE.match(station) or len(station) > 40:
        abort(404, f"{station!r} is not a station name like kiosk-1")
    lang = request.args.get("lang", "zh")
    from queue_server.auth import csrf_token, current_identity

    enrolled = current_identity().station
    data: dict[str, Any] = {"station": station, "lang": lang if lang in LANGUAGES else "zh", "version": ASSET_VERSION,
            "i18n": translations(), "api": "/api/v1",
            # The station this browser is enrolled as (None: not yet; the URL fragment #token=… enrols it).
            "enrolled": enrolled, "csrf": csrf_token() if enrolled else None}
    idle = request.args.get("idle", type=int)
    if idle:
        data["idle_s"] = max(3, min(idle, 1800))
    cfg = current_app.extensions["onewindow"].config
    resp = current_app.make_response(render_template("kiosk/index.html", data=data, v=ASSET_VERSION,
                                                     hall_name=cfg.hall.name.zh))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/qr.svg")
def qr_svg() -> ResponseReturnValue:
    """A QR code drawn here (no network): the tracker address of a ticket, a portal address."""
    data = request.args.get("d", "")
    if not data or len(data) > 512:
        abort(400, "give the text to encode as d= (1 to 512 characters)")
    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2,
                      error_correction=qrcode.constants.ERROR_CORRECT_M)
    buf = io.BytesIO()
    img.save(buf)
    resp = current_app.make_response(buf.getvalue())
    resp.headers["Content-Type"] = "image/svg+xml"
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


@bp.get("/version")
def version() -> ResponseReturnValue:
    return {"asset_version": ASSET_VERSION}
