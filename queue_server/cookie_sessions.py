"""Flask's signed-cookie sessions, verified once per cookie.

Every staff request opened its session by building a new ``URLSafeTimedSerializer`` and checking the cookie's
HMAC signature again: a window clerk's browser sends the same cookie all day, hundreds of times. Here the
serializer is built once per app and a cookie that verified is remembered (bounded, least recently used) until its
signed timestamp expires; each request still gets its own copy of the data to change. A cookie that never verified
is never remembered, so a forged or altered one is checked, and refused, every time.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

REMEMBERED = 4096  # cookies: a hall has a few hundred browsers (staff, kiosks)


class VerifiedCookieSessions(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._serializers: dict[tuple[Any, ...], URLSafeTimedSerializer] = {}
        self._seen: OrderedDict[str, tuple[dict[str, Any], float]] = OrderedDict()
        self._lock = threading.Lock()

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        s = self._serializers.get(keys)
        if s is None:
            s = super().get_signing_serializer(app)
            assert s is not None
            self._serializers = {keys: s}  # a new secret (never at run time) replaces the old one
        return s

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        s = self.get_signing_serializer(app)
        if s is None:
            return None
        val = request.cookies.get(self.get_cookie_name(app))
        if not val:
            return self.session_class()
        now = time.time()
        with self._lock:
            hit = self._seen.get(val)
            if hit is not None:
                if hit[1] > now:
                    self._seen.move_to_end(val)
                    return self.session_class(copy.deepcopy(hit[0]))
                del self._seen[val]
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed_at = s.loads(val, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        with self._lock:
            self._seen[val] = (copy.deepcopy(data), signed_at.timestamp() + max_age)
            while len(self._seen) > REMEMBERED:
                self._seen.popitem(last=False)
        return self.session_class(data)
