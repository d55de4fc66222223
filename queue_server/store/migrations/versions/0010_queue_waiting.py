"""queue_waiting: waiting tickets per queue and priority class of a day, kept by triggers on tickets, so the people
ahead of a new ticket are read from a few rows rather than counted over the whole line

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# The triggers as this revision creates them (store/schema.py builds the same for a fresh metadata; the migration
# test compares the two).
KEY_MOVED = ("NEW.hall_id <> OLD.hall_id OR NEW.service_day <> OLD.service_day OR NEW.queue_id <> OLD.queue_id "
             "OR NEW.priority <> OLD.priority")
UPDATE_OF = "UPDATE OF hall_id, service_day, queue_id, priority, status ON tickets"
SQLITE_JOIN = ("INSERT INTO queue_waiting (hall_id, service_day, queue_id, priority, waiting) "
               "VALUES (NEW.hall_id, NEW.service_day, NEW.queue_id, NEW.priority, 1) "
               "ON CONFLICT (hall_id, service_day, queue_id, priority) DO UPDATE SET waiting = waiting + 1;")
SQLITE_LEAVE = ("UPDATE queue_waiting SET waiting = waiting - 1 WHERE hall_id = OLD.hall_id "
                "AND service_day = OLD.service_day AND queue_id = OLD.queue_id AND priority = OLD.priority;")
SQLITE_TRIGGERS = (
    f"CREATE TRIGGER tickets_waiting_insert AFTER INSERT ON tickets WHEN NEW.status = 'waiting' "
    f"BEGIN {SQLITE_JOIN} END",
    f"CREATE TRIGGER tickets_waiting_leave AFTER {UPDATE_OF} "
    f"WHEN OLD.status = 'waiting' AND (NEW.status <> 'waiting' OR {KEY_MOVED}) BEGIN {SQLITE_LEAVE} END",
    f"CREATE TRIGGER tickets_waiting_join AFTER {UPDATE_OF} "
    f"WHEN NEW.status = 'waiting' AND (OLD.status <> 'waiting' OR {KEY_MOVED}) BEGIN {SQLITE_JOIN} END",
    f"CREATE TRIGGER tickets_waiting_delete AFTER DELETE ON tickets WHEN OLD.status = 'waiting' "
    f"BEGIN {SQLITE_LEAVE} END",
)
PG_TRIGGERS = (
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


def upgrade() -> None:
    op.create_table(
        "queue_waiting",
        sa.Column("hall_id", sa.String(length=40), nullable=False),
        sa.Column("service_day", sa.String(length=10), nullable=False),
        sa.Column("queue_id", sa.String(length=40), nullable=False),
        sa.Column("priority", sa.String(length=12), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hall_id", "service_day", "queue_id", "priority", name=op.f("pk_queue_waiting")),
    )
    # Triggers first, then the backfill: on PostgreSQL CREATE TRIGGER locks tickets against writes until this
    # transaction commits, so no ticket written by a server still running is missed between the two.
    pg = op.get_bind().dialect.name == "postgresql"
    for sql in PG_TRIGGERS if pg else SQLITE_TRIGGERS:
        op.execute(sql)
    op.execute(
        "INSERT INTO queue_waiting (hall_id, service_day, queue_id, priority, waiting) "
        "SELECT hall_id, service_day, queue_id, priority, count(*) FROM tickets WHERE status = 'waiting' "
        "GROUP BY hall_id, service_day, queue_id, priority")


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for name in ("tickets_waiting_insert", "tickets_waiting_leave", "tickets_waiting_join", "tickets_waiting_update",
                 "tickets_waiting_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON tickets" if pg else ""))
    if pg:
        op.execute("DROP FUNCTION tickets_waiting_count()")
    op.drop_table("queue_waiting")
