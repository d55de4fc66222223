"""Tables of the case module (intake, back office, issuance, evaluations); on the shared metadata (metadata.py).

The applicant's ID number is kept whole in ``cases`` because the case file needs it by law; every view that
leaves the back office masks it. ``case_log`` is append-only (the migration adds triggers refusing UPDATE and
DELETE): every step of a case, a rating or a follow-up, with who and when.
"""

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint

from .metadata import UTCDateTime, metadata

cases = Table(
    "cases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hall_id", String(40), nullable=False),
    Column("number", String(24), nullable=False, unique=True),  # HZ-20261126-0001
    Column("service_day", String(10), nullable=False),
    Column("item_id", String(40), nullable=False),
    Column("department_id", String(40), nullable=False),
    Column("kind", String(12), nullable=False),  # immediate | promised
    Column("source", String(12), nullable=False),  # window | online
    Column("ticket_id", Integer, nullable=True),
    Column("window_id", String(40), nullable=True),
    Column("status", String(16), nullable=False),
    Column("applicant_name", String(80), nullable=False),
    Column("applicant_id_number", String(18), nullable=False),  # whole: the case file needs it
    Column("applicant_label", String(80), nullable=False),  # masked name, e.g. 王*娜
    Column("applicant_phone", String(20), nullable=True),
    Column("person_key", String(64), nullable=False),  # keyed hash of the ID number, for an ID-card tap
    Column("materials", JSON, nullable=False),  # one mark per checklist entry
    Column("received_at", UTCDateTime, nullable=False),
    Column("accepted_at", UTCDateTime, nullable=True),
    Column("accepted_on", String(10), nullable=True),
    Column("promised_days", Integer, nullable=False),
    Column("due_on", String(10), nullable=True),  # None before acceptance and while suspended
    Column("correction", JSON, nullable=True),  # {"told": [indexes], "at": ...}
    Column("deficiency", JSON, nullable=True),  # {"items": [indexes], "supply_by": ..., "supplied_at": ...}
    Column("assignee", String(40), nullable=True),
    Column("decision", String(10), nullable=True),  # approved | denied | rejected
    Column("decision_reasons", JSON, nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("decided_by", String(80), nullable=True),
    Column("delivery", JSON, nullable=True),  # {"method": "window"|"courier", ...}
    Column("issuance_ticket_id", Integer, nullable=True),
    Column("tracker_token", String(40), nullable=False, unique=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_cases_open", "hall_id", "status", "department_id"),
    Index("ix_cases_person", "hall_id", "person_key"),
)

case_suspensions = Table(
    "case_suspensions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False, index=True),
    Column("procedure", String(20), nullable=False),  # hearing | testing | expert_review | other
    Column("reason", String(200), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("started_on", String(10), nullable=False),
    Column("started_by", String(80), nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("ended_on", String(10), nullable=True),
    Column("ended_by", String(80), nullable=True),
)

case_notices = Table(
    "case_notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("number", String(40), nullable=False, unique=True),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("content", JSON, nullable=False),  # the notice as issued: reprints are identical
    Column("actor", String(80), nullable=False),
)

case_log = Table(
    "case_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hall_id", String(40), nullable=False),
    Column("subject", String(12), nullable=False),  # case | evaluation | followup | approver
    Column("subject_id", String(40), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("action", String(24), nullable=False),
    Column("from_status", String(16), nullable=True),
    Column("to_status", String(16), nullable=True),
    Column("actor", String(80), nullable=False),
    Column("detail", JSON, nullable=True),
    Index("ix_case_log_subject", "subject", "subject_id"),
)

approver_presence = Table(
    "approver_presence",
    metadata,
    Column("hall_id", String(40), primary_key=True),
    Column("username", String(40), primary_key=True),
    Column("absent", Integer, nullable=False),
    Column("reason", String(100), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("actor", String(80), nullable=False),
)

evaluation_requests = Table(
    "evaluation_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hall_id", String(40), nullable=False),
    Column("subject_kind", String(8), nullable=False),  # ticket | case
    Column("subject_id", Integer, nullable=False),
    Column("subject_label", String(40), nullable=False),  # ticket or case number
    Column("item_id", String(40), nullable=True),
    Column("department_id", String(40), nullable=True),
    Column("window_id", String(40), nullable=True),
    Column("staff", String(40), nullable=True),  # who served (rated about, never rating)
    Column("token", String(40), nullable=False, unique=True),  # the QR link's own secret
    Column("session", String(8), nullable=True),  # the evaluator pad's session
    Column("station", String(40), nullable=True),
    Column("status", String(12), nullable=False),  # open | rated
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    UniqueConstraint("hall_id", "subject_kind", "subject_id", name="uq_evaluation_requests_subject"),
)

evaluations = Table(
    "evaluations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hall_id", String(40), nullable=False),
    Column("request_id", Integer, ForeignKey("evaluation_requests.id"), nullable=False, unique=True),
    Column("subject_kind", String(8), nullable=False),
    Column("subject_label", String(40), nullable=False),
    Column("item_id", String(40), nullable=True),
    Column("department_id", String(40), nullable=True),
    Column("window_id", String(40), nullable=True),
    Column("staff", String(40), nullable=True),
    Column("level", Integer, nullable=False),
    Column("indicators", JSON, nullable=False),
    Column("comment", String(500), nullable=True),
    Column("channel", String(8), nullable=False),
    Column("station", String(40), nullable=True),
    Column("at", UTCDateTime, nullable=False, index=True),
)

evaluation_followups = Table(
    "evaluation_followups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hall_id", String(40), nullable=False),
    Column("evaluation_id", Integer, ForeignKey("evaluations.id"), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("due_on", String(10), nullable=False),
    Column("steps", JSON, nullable=False),  # {"verify": {...}, "rectify": {...}, ...}
    Column("closed_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)
