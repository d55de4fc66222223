"""Tables of supervision: 电子监察 alerts, the audit log of staff administration, the reports' day summaries."""

from sqlalchemy import JSON, Column, Index, Integer, String, Table

from .metadata import UTCDateTime, metadata

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hall_id", String(40), nullable=False),
    Column("key", String(120), nullable=False),  # the condition's stable key: one open alert per key
    Column("kind", String(24), nullable=False),
    Column("level", String(10), nullable=False),  # warning | critical
    Column("subject", String(80), nullable=False),
    Column("message", String(300), nullable=False),
    Column("raised_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),  # the condition cleared
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("acknowledged_by", String(80), nullable=True),
    Column("ack_note", String(500), nullable=True),
    Index("ix_alerts_open", "hall_id", "closed_at", "key"),
    Index("ix_alerts_raised", "hall_id", "raised_at"),
)

staff_audit = Table(
    "staff_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("action", String(24), nullable=False),
    Column("target", String(60), nullable=False),  # a username or a station
    Column("detail", JSON, nullable=True),
)

report_days = Table(
    "report_days",
    metadata,
    Column("hall_id", String(40), primary_key=True),
    Column("service_day", String(10), primary_key=True),
    Column("dim", String(8), primary_key=True),  # hall | queue | item | window | staff | hours
    # services/reports.summarise_day: one dimension's counts and duration histograms (or arrivals per hour).
    Column("body", JSON, nullable=False),
)
