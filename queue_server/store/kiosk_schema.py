"""Tables of the kiosk: appointments (预约) that check in at a kiosk; on the shared metadata (metadata.py).

A booking holds no ID number: the booked person's name is kept masked only (王*娜), for staff lists.
"""

from sqlalchemy import Column, Index, Integer, String, Table

from .metadata import UTCDateTime, metadata

appointments = Table(
    "appointments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hall_id", String(40), nullable=False),
    Column("code", String(24), nullable=False, unique=True),  # what the QR carries, e.g. YY7KQ2M4XD
    Column("item_id", String(40), nullable=True),
    Column("queue_id", String(40), nullable=False),
    Column("slot_at", UTCDateTime, nullable=False),  # the booked time
    Column("status", String(12), nullable=False),  # booked | checked_in | cancelled
    Column("person_label", String(80), nullable=True),  # masked name
    Column("ticket_id", Integer, nullable=True),  # the ticket issued at check-in
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(80), nullable=False),
    Column("checked_in_at", UTCDateTime, nullable=True),
    Column("station", String(40), nullable=True),  # the kiosk it checked in at
    Index("ix_appointments_hall_slot", "hall_id", "slot_at"),
)
