"""Staff accounts and device tokens: hashed passwords, lock-out after repeated failures, disabling, tokens."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from ..domain.errors import DomainError, InvalidInput, NotFound
from ..store.db import plain_write_tx, single_read
from ..store.hot import HotStatement
from ..store.schema import device_tokens, staff, staff_sessions

ROLES = ("window_staff", "approver", "supervisor", "technician", "admin")
ROLE_ZH = {"window_staff": "窗口人员", "approver": "后台审批", "supervisor": "值班长", "technician": "技术员",
           "admin": "管理员"}
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
CLIENT_MAX_FAILURES = 20  # failed logins from one client address ...
CLIENT_WINDOW = timedelta(minutes=10)  # ... within this time, then it waits (whatever usernames it tries)
WRONG = "wrong username or password / 用户名或密码错误"
MIN_PASSWORD = 8
USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,39}$")


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash("not-a-password")


class AuthFailed(DomainError):
    code = "login_failed"


class Locked(DomainError):
    code = "account_locked"


class Throttled(DomainError):
    code = "too_many_attempts"


class LoginGuard:
    """What has no database row: failure counts of usernames that do not exist (so that they answer and lock
    exactly like real ones: no user enumeration) and of client addresses (so that one client cannot lock out
    the whole hall by trying every name). In memory, per server process, bounded in size."""

    def __init__(self, max_keys: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._ghosts: OrderedDict[str, tuple[int, datetime | None]] = OrderedDict()  # failures, locked until
        self._clients: OrderedDict[str, list[datetime]] = OrderedDict()
        self._max = max_keys

    def _bound(self, book: OrderedDict[str, Any]) -> None:
        while len(book) > self._max:
            book.popitem(last=False)

    def client_wait(self, client: str | None, now: datetime) -> int:
        """Seconds this client must wait before its next try (0: go ahead)."""
        if not client:
            return 0
        with self._lock:
            recent = [t for t in self._clients.get(client, []) if now - t < CLIENT_WINDOW]
            self._clients[client] = recent
            if len(recent) < CLIENT_MAX_FAILURES:
                return 0
            return int((recent[0] + CLIENT_WINDOW - now).total_seconds()) + 1

    def client_failed(self, client: str | None, now: datetime) -> None:
        if client:
            with self._lock:
                self._clients.setdefault(client, []).append(now)
                self._clients.move_to_end(client)
                self._bound(self._clients)

    def ghost(self, username: str) -> tuple[int, datetime | None]:
        with self._lock:
            return self._ghosts.get(username, (0, None))

    def set_ghost(self, username: str, failures: int, locked_until: datetime | None) -> None:
        with self._lock:
            self._ghosts[username] = (failures, locked_until)
            self._ghosts.move_to_end(username)
            self._bound(self._ghosts)


@dataclass(frozen=True)
class StaffMember:
    id: int
    username: str
    display_name: str
    roles: tuple[str, ...]
    windows: tuple[str, ...]
    departments: tuple[str, ...]
    post: str | None
    photo: str | None
    disabled: bool
    session_version: int

    def has(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "display_name": self.display_name,
                "roles": list(self.roles), "windows": list(self.windows), "departments": list(self.departments),
                "post": self.post, "photo": self.photo, "disabled": self.disabled}


def _member(row: Any) -> StaffMember:
    return StaffMember(row.id, row.username, row.display_name, tuple(row.roles), tuple(row.windows),
                       tuple(row.departments), row.post, row.photo, bool(row.disabled), row.session_version)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"the password needs at least {MIN_PASSWORD} characters", code="weak_password")


def add_user(engine: Engine, now: datetime, username: str, display_name: str, password: str, roles: list[str],
             windows: list[str] | None = None, departments: list[str] | None = None, post: str | None = None,
             photo: str | None = None, known_windows: set[str] | None = None) -> StaffMember:
    if not USERNAME_RE.match(username):
        raise InvalidInput("username: lowercase letters, digits, '.', '_' or '-', starting with a letter",
                           code="bad_username")
    bad = [r for r in roles if r not in ROLES]
    if not roles or bad:
        raise InvalidInput(f"roles must be some of {', '.join(ROLES)}" + (f"; unknown: {', '.join(bad)}" if bad else ""),
                           code="bad_role")
    if known_windows is not None:
        unknown = [w for w in windows or [] if w not in known_windows]
        if unknown:
            raise InvalidInput(f"unknown windows: {', '.join(unknown)}", code="bad_window")
    _check_password(password)
    try:
        with plain_write_tx(engine) as conn:
            new_id = conn.execute(staff.insert().values(
                username=username, display_name=display_name, roles=roles, windows=windows or [],
                departments=departments or [], post=post, photo=photo,
                password_hash=generate_password_hash(password), disabled=0, failed_logins=0, session_version=1,
                created_at=now).returning(staff.c.id)).scalar_one()
    except IntegrityError:
        raise DomainError(f"a user named {username!r} already exists", code="user_exists") from None
    return get_user(engine, new_id)


def get_user(engine: Engine, user_id: int) -> StaffMember:
    with engine.connect() as conn:
        row = conn.execute(select(staff).where(staff.c.id == user_id)).first()
    if row is None:
        raise NotFound(f"staff member {user_id} does not exist", code="user_not_found")
    return _member(row)


def find_user(engine: Engine, username: str) -> StaffMember:
    with engine.connect() as conn:
        row = conn.execute(select(staff).where(staff.c.username == username)).first()
    if row is None:
        raise NotFound(f"no user named {username!r}", code="user_not_found")
    return _member(row)


def list_users(engine: Engine) -> list[StaffMember]:
    with engine.connect() as conn:
        return [_member(r) for r in conn.execute(select(staff).order_by(staff.c.username))]


def set_disabled(engine: Engine, username: str, disabled: bool, now: datetime | None = None) -> StaffMember:
    """Disable (every session ends at once) or enable (which also lifts a lock-out)."""
    lock = {} if disabled else {"failed_logins": 0, "locked_until": None}
    with plain_write_tx(engine) as conn:
        done = conn.execute(update(staff).where(staff.c.username == username).values(
            disabled=int(disabled), session_version=staff.c.session_version + 1, **lock)
            .returning(staff.c.id)).first()
        if done is not None and now is not None:
            _revoke_all(conn, done.id, now)
    if done is None:
        raise NotFound(f"no user named {username!r}", code="user_not_found")
    return find_user(engine, username)


def set_password(engine: Engine, username: str, password: str, now: datetime | None = None) -> None:
    """A new password: every session of the account ends, a lock-out is lifted."""
    _check_password(password)
    with plain_write_tx(engine) as conn:
        done = conn.execute(update(staff).where(staff.c.username == username).values(
            password_hash=generate_password_hash(password), failed_logins=0, locked_until=None,
            session_version=staff.c.session_version + 1).returning(staff.c.id)).first()
        if done is not None and now is not None:
            _revoke_all(conn, done.id, now)
    if done is None:
        raise NotFound(f"no user named {username!r}", code="user_not_found")


def _failure(now: datetime, failures: int, locked_until: datetime | None) -> tuple[DomainError, int,
                                                                                datetime | None]:
    """The reply to a failed try, the same whether or not the user exists: (error, new failure count, lock)."""
    if locked_until is not None and locked_until > now:
        minutes = int((locked_until - now).total_seconds() // 60) + 1
        return (Locked(f"too many failed logins; try again in {minutes} min or ask an administrator / 登录失败次数过多，"
                       f"请 {minutes} 分钟后再试", details={"locked_until": locked_until.isoformat()}),
                failures, locked_until)
    failures += 1
    if failures >= MAX_FAILURES:
        until = now + LOCKOUT
        minutes = int(LOCKOUT.total_seconds() // 60)
        return (Locked(f"too many failed logins; locked for {minutes} min / 登录失败次数过多，已锁定 {minutes} 分钟",
                       details={"locked_until": until.isoformat()}), 0, until)
    return AuthFailed(WRONG, details={"attempts_left": MAX_FAILURES - failures}), failures, None


def authenticate(engine: Engine, now: datetime, username: str, password: str, guard: LoginGuard | None = None,
                 client: str | None = None) -> StaffMember:
    """The member of staff, or AuthFailed / Locked / Throttled.

    An unknown username answers exactly like a known one with a wrong password: the same code, message and
    ``attempts_left``, and the same lock after MAX_FAILURES tries (kept in ``guard``), so the replies say nothing
    about who exists. A locked account refuses even the right password until the lock ends. ``client`` (the
    caller's address) is throttled beside the per-account lock-out."""
    guard = guard or LoginGuard()
    wait = guard.client_wait(client, now)
    if wait:
        raise Throttled(f"too many failed logins from this computer; try again in {wait} s / 本机登录失败次数过多",
                        details={"retry_after": wait})
    failure: DomainError | None = None
    # The failure count must be committed even though the login fails, so raise only after the transaction.
    with plain_write_tx(engine) as conn:
        row = conn.execute(select(staff).where(staff.c.username == username)).first()
        if row is None:
            check_password_hash(_dummy_hash(), password)  # the same work either way: no user enumeration by timing
            failure, failures, until = _failure(now, *guard.ghost(username))
            guard.set_ghost(username, failures, until)
        elif (row.locked_until is not None and row.locked_until > now) or \
                not check_password_hash(row.password_hash, password):
            failure, failures, until = _failure(now, row.failed_logins, row.locked_until)
            conn.execute(update(staff).where(staff.c.id == row.id).values(failed_logins=failures,
                                                                          locked_until=until))
        elif row.disabled:
            failure = AuthFailed("this account is disabled; ask an administrator", code="account_disabled")
        else:
            conn.execute(update(staff).where(staff.c.id == row.id).values(failed_logins=0, locked_until=None))
    if failure is not None:
        guard.client_failed(client, now)
        raise failure
    return _member(row)


# ---------------------------------------------------------------- login sessions (revocable on the server)


def open_session(engine: Engine, now: datetime, member: StaffMember, client: str | None) -> str:
    """A new session for a login; the cookie carries the returned id, the database only its hash."""
    raw = secrets.token_urlsafe(32)
    with plain_write_tx(engine) as conn:
        conn.execute(staff_sessions.insert().values(id=_token_hash(raw), staff_id=member.id, created_at=now,
                                                    client=(client or "")[:64] or None))
    return raw


def session_member(engine: Engine, raw: str, staff_id: int) -> StaffMember | None:
    """The member of staff of a live (not revoked) session, in one query with the account (every staff request
    asks this)."""
    with single_read(engine) as conn:
        row = _SESSION_MEMBER.first(conn, {"b_sid": _token_hash(raw), "b_staff": staff_id})
    return _member(row) if row is not None else None


# Built once and run on the DBAPI cursor (store.hot): every staff request and every device request asks these.
_SESSION_MEMBER = HotStatement(select(staff).join(staff_sessions, staff_sessions.c.staff_id == staff.c.id).where(
    staff_sessions.c.id == bindparam("b_sid"), staff_sessions.c.revoked_at.is_(None),
    staff.c.id == bindparam("b_staff")))
_TOKEN_STATION = HotStatement(select(device_tokens.c.station).where(
    device_tokens.c.token_hash == bindparam("b_hash"), device_tokens.c.revoked_at.is_(None)))


def revoke_session(engine: Engine, now: datetime, raw: str) -> None:
    """Logout: this session only (the member's other browsers stay logged in; disable or a new password end
    them all)."""
    with plain_write_tx(engine) as conn:
        conn.execute(update(staff_sessions).where(staff_sessions.c.id == _token_hash(raw),
                                                  staff_sessions.c.revoked_at.is_(None)).values(revoked_at=now))


def _revoke_all(conn: Any, staff_id: int, now: datetime) -> None:
    conn.execute(update(staff_sessions).where(staff_sessions.c.staff_id == staff_id,
                                              staff_sessions.c.revoked_at.is_(None)).values(revoked_at=now))


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def add_device_token(engine: Engine, now: datetime, station: str) -> str:
    """A new token for a station's agent; only its hash is kept, so it is shown once."""
    raw = f"ow_{station}_{secrets.token_urlsafe(24)}"
    with plain_write_tx(engine) as conn:
        conn.execute(device_tokens.insert().values(station=station, token_hash=_token_hash(raw), created_at=now))
    return raw


def revoke_device_tokens(engine: Engine, now: datetime, station: str) -> int:
    with plain_write_tx(engine) as conn:
        return conn.execute(update(device_tokens).where(device_tokens.c.station == station,
                                                        device_tokens.c.revoked_at.is_(None))
                            .values(revoked_at=now)).rowcount


def station_for_token(engine: Engine, raw: str) -> str | None:
    return station_for_token_hash(engine, token_hash(raw))


def token_hash(raw: str) -> str:
    """What a kiosk browser's session keeps of the token it enrolled with: revoking the token ends it too."""
    return _token_hash(raw)


def station_for_token_hash(engine: Engine, hashed: str) -> str | None:
    with single_read(engine) as conn:
        row = _TOKEN_STATION.first(conn, {"b_hash": hashed})
    return row.station if row else None
