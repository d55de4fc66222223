"""The queue's tables (halls, tickets, windows, events, staff, devices); the shared metadata is in metadata.py,
the case and kiosk tables beside this file, and tables.py gathers them all for migrations."""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    literal_column,
    text,
)

from .metadata import UTCDateTime, metadata

# The indexes of the line hold waiting tickets only: a few hundred entries however long the hall's history, and a
# call takes its ticket out of them for good (a start or a finish no longer touches them).
WAITING_ONLY = "status = 'waiting'"

halls = Table(
    "halls",
    metadata,
    Column("id", String(40), primary_key=True),
    # Last event sequence number; every write transaction locks this row first, so a hall's writes are serial.
    Column("event_seq", Integer, nullable=False, default=0),
    # Sequence number of the last public event: public events carry it as ``prev`` (the hall room's chain).
    Column("public_seq", Integer, nullable=False, default=0, server_default="0"),
    Column("service_day", String(10), nullable=True),  # the last service day rolled over to
)

day_counters = Table(
    "day_counters",
    metadata,
    Column("hall_id", String(40), primary_key=True),
    Column("kind", String(10), primary_key=True),  # "queue" numbering, "item" for item caps
    Column("key", String(40), primary_key=True),
    Column("service_day", String(10), primary_key=True),
    Column("value", Integer, nullable=False),
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hall_id", String(40), nullable=False),
    Column("service_day", String(10), nullable=False),
    Column("queue_id", String(40), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("number", String(12), nullable=False),
    Column("item_id", String(40), nullable=True),
    Column("priority", String(12), nullable=False),
    Column("priority_reason", String(20), nullable=True),
    Column("status", String(12), nullable=False),
    Column("position", UTCDateTime, nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("called_at", UTCDateTime, nullable=True),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("window_id", String(40), nullable=True),
    Column("target_window", String(40), nullable=True),
    Column("recalls", Integer, nullable=False, default=0),
    Column("tracker_token", String(40), nullable=False, unique=True),
    # A keyed hash of the ID number: enough to find "this person already has a ticket", useless if leaked.
    Column("person_key", String(64), nullable=True),
    Column("person_label", String(40), nullable=True),  # masked name for display, e.g. 王*娜
    Column("appointment_code", String(64), nullable=True),
    Column("source", String(40), nullable=True),
    Column("close_reason", String(200), nullable=True),
    # The number (prefix + daily sequence) is unique per day; a transfer moves the ticket, never renumbers it.
    UniqueConstraint("hall_id", "service_day", "number", name="uq_tickets_number"),
    # The head of each (queue, priority class) line: call-next reads one entry per line, whatever its length.
    Index("ix_tickets_heads", "hall_id", "service_day", "queue_id", "priority", "position", "id",
          sqlite_where=text(WAITING_ONLY), postgresql_where=text(WAITING_ONLY)),
    # The longest-waiting ticket of a queue, for the long-wait rule.
    Index("ix_tickets_waited", "hall_id", "service_day", "queue_id", "issued_at", "id",
          sqlite_where=text(WAITING_ONLY), postgresql_where=text(WAITING_ONLY)),
    # Tickets by status (a window's held ones, the hall's called ones, the day's roll-over) and the reports.
    Index("ix_tickets_status", "hall_id", "service_day", "status", "queue_id"),
    # A window's calls today (its share per queue), a queue's last call and its recent service times.
    Index("ix_tickets_window", "hall_id", "service_day", "window_id", "queue_id", "called_at"),
    Index("ix_tickets_called", "hall_id", "service_day", "queue_id", "called_at"),
    Index("ix_tickets_finished", "hall_id", "service_day", "queue_id", "finished_at"),
    Index("ix_tickets_person", "hall_id", "person_key", "queue_id"),
)
# The condition of the waiting-only indexes above, in the statement's own SQL: a PostgreSQL generic plan (what a
# prepared statement settles on) cannot read a partial index for a status given as a parameter.
TICKET_WAITING = tickets.c.status == literal_column("'waiting'")

# Waiting tickets per line (queue and priority class) of a day, kept by triggers on ``tickets`` (below): a
# kiosk's "people ahead" reads a handful of rows here instead of counting every waiting ticket of its queue.
# Triggers and not the code of each use case, so no UPDATE of tickets, bulk ones included (the day's roll-over), can
# leave it behind. A line that empties keeps its row at 0: a quiet queue going 0 → 1 → 0 costs one UPDATE each
# way rather than an INSERT and a DELETE, and the rows are few (halls × days × queues × classes).
queue_waiting = Table(
    "queue_waiting",
    metadata,
    Column("hall_id", String(40), primary_key=True),
    Column("service_day", String(10), primary_key=True),
    Column("queue_id", String(40), primary_key=True),
    Column("priority", String(12), primary_key=True),
    Column("waiting", Integer, nullable=False),
)

# A ticket leaves a line when it stops waiting or moves (another queue, class, day); it joins one when it starts
# waiting or moves while waiting. SQLite: per row, an in-place B-tree update. PostgreSQL: per statement, from its
# transition tables — per row, a bulk UPDATE (the roll-over closing thousands) would write one count row thousands
# of times in one transaction, each new version found by walking all the earlier ones (8,000: 1.8 s against 0.4 s
# without). Migration 0010 creates the same triggers (test_queue_waiting compares them).
_KEY_MOVED = ("NEW.hall_id <> OLD.hall_id OR NEW.service_day <> OLD.service_day OR NEW.queue_id <> OLD.queue_id "
              "OR NEW.priority <> OLD.priority")
_UPDATE_OF = "UPDATE OF hall_id, service_day, queue_id, priority, status ON tickets"
_SQLITE_JOIN = ("INSERT INTO queue_waiting (hall_id, service_day, queue_id, priority, waiting) "
                "VALUES (NEW.hall_id, NEW.service_day, NEW.queue_id, NEW.priority, 1) "
                "ON CONFLICT (hall_id, service_day, queue_id, priority) DO UPDATE SET waiting = waiting + 1;")
_SQLITE_LEAVE = ("UPDATE queue_waiting SET waiting = waiting - 1 WHERE hall_id = OLD.hall_id "
                 "AND service_day = OLD.service_day AND queue_id = OLD.queue_id AND priority = OLD.priority;")
SQLITE_WAITING_TRIGGERS = (
    f"CREATE TRIGGER tickets_waiting_insert AFTER INSERT ON tickets WHEN NEW.status = 'waiting' "
    f"BEGIN {_SQLITE_JOIN} END",
    f"CREATE TRIGGER tickets_waiting_leave AFTER {_UPDATE_OF} "
    f"WHEN OLD.status = 'waiting' AND (NEW.status <> 'waiting' OR {_KEY_MOVED}) BEGIN {_SQLITE_LEAVE} END",
    f"CREATE TRIGGER tickets_waiting_join AFTER {_UPDATE_OF} "
    f"WHEN NEW.status = 'waiting' AND (OLD.status <> 'waiting' OR {_KEY_MOVED}) BEGIN {_SQLITE_JOIN} END",
    f"CREATE TRIGGER tickets_waiting_delete AFTER DELETE ON tickets WHEN OLD.status = 'waiting' "
    f"BEGIN {_SQLITE_LEAVE} END",
)
PG_WAITING_TRIGGERS = (
    """CREATE FUNCTION tickets_waiting_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO queue_waiting AS w (hall_id, service_day, queue_id, priority, waiting)
            SELECT hall_id, service_day, queue_id, priority, count(*) FROM new_tickets WHERE status = 'waiting'
            GROUP BY hall_id, service_day, queue_id, priority
            ON CONFLICT (hall_id, service_day, queue_id, priority) DO UPDATE SET waiting = w.waiting + excluded.waiting;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE queue_waiting AS w SET waiting = w.waiting - o.n FROM (
            SELECT hall_id, service_day, queue_id, priority, count(*) AS n FROM old_tickets WHERE status = 'waiting'
            GROUP BY hall_id, service_day, queue_id, priority) o
            WHERE w.hall_id = o.hall_id AND w.service_day = o.service_day AND w.queue_id = o.queue_id
                AND w.priority = o.priority;
    ELSE
        INSERT INTO queue_waiting AS w (hall_id, service_day, queue_id, priority, waiting)
            SELECT hall_id, service_day, queue_id, priority, sum(d) FROM (
                SELECT hall_id, service_day, queue_id, priority, -1 AS d FROM old_tickets WHERE status = 'waiting'
                UNION ALL
                SELECT hall_id, service_day, queue_id, priority, 1 FROM new_tickets WHERE status = 'waiting') m
            GROUP BY hall_id, service_day, queue_id, priority HAVING sum(d) <> 0
            ON CONFLICT (hall_id, service_day, queue_id, priority) DO UPDATE SET waiting = w.waiting + excluded.waiting;
    END IF;
    RETURN NULL;
END
$$""",
    "CREATE TRIGGER tickets_waiting_insert AFTER INSERT ON tickets REFERENCING NEW TABLE AS new_tickets "
    "FOR EACH STATEMENT EXECUTE FUNCTION tickets_waiting_count()",
    "CREATE TRIGGER tickets_waiting_update AFTER UPDATE ON tickets REFERENCING OLD TABLE AS old_tickets "
    "NEW TABLE AS new_tickets FOR EACH STATEMENT EXECUTE FUNCTION tickets_waiting_count()",
    "CREATE TRIGGER tickets_waiting_delete AFTER DELETE ON tickets REFERENCING OLD TABLE AS old_tickets "
    "FOR EACH STATEMENT EXECUTE FUNCTION tickets_waiting_count()",
)
for _sql in SQLITE_WAITING_TRIGGERS:
    event.listen(metadata, "after_create", DDL(_sql).execute_if(dialect="sqlite"))
for _sql in PG_WAITING_TRIGGERS:
    event.listen(metadata, "after_create", DDL(_sql).execute_if(dialect="postgresql"))

ticket_transitions = Table(
    "ticket_transitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("action", String(16), nullable=False),
    Column("from_status", String(12), nullable=True),
    Column("to_status", String(12), nullable=False),
    Column("window_id", String(40), nullable=True),
    Column("queue_id", String(40), nullable=True),
    Column("actor", String(80), nullable=False),
    Column("detail", JSON, nullable=True),
    Index("ix_ticket_transitions_action", "action", "ticket_id"),
)

window_states = Table(
    "window_states",
    metadata,
    Column("hall_id", String(40), primary_key=True),
    Column("window_id", String(40), primary_key=True),
    Column("status", String(16), nullable=False),  # closed, open, paused, closed_for_day
    Column("service_day", String(10), nullable=True),
    Column("pause_reason", String(100), nullable=True),
    Column("current_ticket_id", Integer, nullable=True),
    Column("priority_streak", Integer, nullable=False, default=0),
    Column("actor", String(80), nullable=True),
    Column("updated_at", UTCDateTime, nullable=True),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hall_id", String(40), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", String(40), nullable=False),
    Column("rooms", JSON, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    UniqueConstraint("hall_id", "seq", name="uq_events_seq"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("hall_id", String(40), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("ticket_id", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

__all__ = [
    "metadata",
    "halls",
    "day_counters",
    "tickets",
    "queue_waiting",
    "ticket_transitions",
    "window_states",
    "events",
    "idempotency_keys",
    "Text",
]

device_status = Table(
    "device_status",
    metadata,
    Column("hall_id", String(40), primary_key=True),
    Column("station", String(40), primary_key=True),
    Column("device", String(20), primary_key=True),
    Column("status", String(20), nullable=False),  # ok, warning, error, offline, unknown
    Column("detail", JSON, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

device_inputs = Table(
    "device_inputs",
    metadata,
    Column("hall_id", String(40), primary_key=True),
    # The agent's own id for the input: a resend after a reconnect is recognised and not handled twice.
    Column("input_id", String(64), primary_key=True),
    Column("station", String(40), nullable=False),
    Column("device", String(20), nullable=False),
    Column("kind", String(20), nullable=False),
    # For a card read: birth date and the keyed hash only (for priority and one-ticket-per-person), never the number.
    Column("data", JSON, nullable=True),
    Column("at", UTCDateTime, nullable=False),
)

staff = Table(
    "staff",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(40), nullable=False, unique=True),
    Column("display_name", String(40), nullable=False),
    Column("roles", JSON, nullable=False),  # window_staff, approver, supervisor, technician, admin
    Column("windows", JSON, nullable=False),  # window ids this member of staff may serve
    Column("departments", JSON, nullable=False),  # department ids (approvers)
    Column("post", String(40), nullable=True),  # 岗位, shown on the evaluator pad
    Column("photo", String(200), nullable=True),
    Column("password_hash", String(200), nullable=False),
    Column("disabled", Integer, nullable=False, default=0),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", UTCDateTime, nullable=True),
    # Bumped on disable or password change: every session made before is no longer valid.
    Column("session_version", Integer, nullable=False, default=1),
    Column("created_at", UTCDateTime, nullable=False),
)

# One row per login: the signed cookie carries only the row's id (hashed here), so a logout revokes that one
# session on the server and a saved copy of the cookie is worth nothing afterwards.
staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 of the session id in the cookie
    Column("staff_id", Integer, ForeignKey("staff.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("client", String(64), nullable=True),  # the address it logged in from, for the audit
    Column("revoked_at", UTCDateTime, nullable=True),
)

device_tokens = Table(
    "device_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("station", String(40), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)
