"""case module: cases, notices, suspensions, append-only log, approver presence, evaluations, follow-ups

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER case_log_no_update BEFORE UPDATE ON case_log "
    "BEGIN SELECT RAISE(ABORT, 'case_log is append-only'); END",
    "CREATE TRIGGER case_log_no_delete BEFORE DELETE ON case_log "
    "BEGIN SELECT RAISE(ABORT, 'case_log is append-only'); END",
)
_PG_TRIGGERS = (
    "CREATE FUNCTION case_log_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'case_log is append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER case_log_no_change BEFORE UPDATE OR DELETE ON case_log "
    "FOR EACH ROW EXECUTE FUNCTION case_log_append_only()",
)


def upgrade() -> None:
    op.create_table('approver_presence',
        sa.Column('hall_id', sa.String(length=40), nullable=False),
        sa.Column('username', sa.String(length=40), nullable=False),
        sa.Column('absent', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=100), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('actor', sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint('hall_id', 'username', name=op.f('pk_approver_presence'))
    )
    op.create_table('case_log',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('hall_id', sa.String(length=40), nullable=False),
        sa.Column('subject', sa.String(length=12), nullable=False),
        sa.Column('subject_id', sa.String(length=40), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('action', sa.String(length=24), nullable=False),
        sa.Column('from_status', sa.String(length=16), nullable=True),
        sa.Column('to_status', sa.String(length=16), nullable=True),
        sa.Column('actor', sa.String(length=80), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_log'))
    )
    op.create_index('ix_case_log_subject', 'case_log', ['subject', 'subject_id'], unique=False)
    op.create_table('cases',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('hall_id', sa.String(length=40), nullable=False),
        sa.Column('number', sa.String(length=24), nullable=False),
        sa.Column('service_day', sa.String(length=10), nullable=False),
        sa.Column('item_id', sa.String(length=40), nullable=False),
        sa.Column('department_id', sa.String(length=40), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('source', sa.String(length=12), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=True),
        sa.Column('window_id', sa.String(length=40), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('applicant_name', sa.String(length=80), nullable=False),
        sa.Column('applicant_id_number', sa.String(length=18), nullable=False),
        sa.Column('applicant_label', sa.String(length=80), nullable=False),
        sa.Column('applicant_phone', sa.String(length=20), nullable=True),
        sa.Column('person_key', sa.String(length=64), nullable=False),
        sa.Column('materials', sa.JSON(), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.Column('accepted_at', sa.DateTime(), nullable=True),
        sa.Column('accepted_on', sa.String(length=10), nullable=True),
        sa.Column('promised_days', sa.Integer(), nullable=False),
        sa.Column('due_on', sa.String(length=10), nullable=True),
        sa.Column('correction', sa.JSON(), nullable=True),
        sa.Column('deficiency', sa.JSON(), nullable=True),
        sa.Column('assignee', sa.String(length=40), nullable=True),
        sa.Column('decision', sa.String(length=10), nullable=True),
        sa.Column('decision_reasons', sa.JSON(), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('decided_by', sa.String(length=80), nullable=True),
        sa.Column('delivery', sa.JSON(), nullable=True),
        sa.Column('issuance_ticket_id', sa.Integer(), nullable=True),
        sa.Column('tracker_token', sa.String(length=40), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
        sa.UniqueConstraint('number', name=op.f('uq_cases_number')),
        sa.UniqueConstraint('tracker_token', name=op.f('uq_cases_tracker_token'))
    )
    op.create_index('ix_cases_open', 'cases', ['hall_id', 'status', 'department_id'], unique=False)
    op.create_index('ix_cases_person', 'cases', ['hall_id', 'person_key'], unique=False)
    op.create_table('evaluation_requests',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('hall_id', sa.String(length=40), nullable=False),
        sa.Column('subject_kind', sa.String(length=8), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=False),
        sa.Column('subject_label', sa.String(length=40), nullable=False),
        sa.Column('item_id', sa.String(length=40), nullable=True),
        sa.Column('department_id', sa.String(length=40), nullable=True),
        sa.Column('window_id', sa.String(length=40), nullable=True),
        sa.Column('staff', sa.String(length=40), nullable=True),
        sa.Column('token', sa.String(length=40), nullable=False),
        sa.Column('session', sa.String(length=8), nullable=True),
        sa.Column('station', sa.String(length=40), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_requests')),
        sa.UniqueConstraint('hall_id', 'subject_kind', 'subject_id', name='uq_evaluation_requests_subject'),
        sa.UniqueConstraint('token', name=op.f('uq_evaluation_requests_token'))
    )
    op.create_table('case_notices',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('number', sa.String(length=40), nullable=False),
        sa.Column('issued_at', sa.DateTime(), nullable=False),
        sa.Column('content', sa.JSON(), nullable=False),
        sa.Column('actor', sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_notices_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_notices')),
        sa.UniqueConstraint('number', name=op.f('uq_case_notices_number'))
    )
    op.create_index(op.f('ix_case_notices_case_id'), 'case_notices', ['case_id'], unique=False)
    op.create_table('case_suspensions',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('procedure', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('started_on', sa.String(length=10), nullable=False),
        sa.Column('started_by', sa.String(length=80), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.Column('ended_on', sa.String(length=10), nullable=True),
        sa.Column('ended_by', sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_suspensions_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_suspensions'))
    )
    op.create_index(op.f('ix_case_suspensions_case_id'), 'case_suspensions', ['case_id'], unique=False)
    op.create_table('evaluations',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('hall_id', sa.String(length=40), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('subject_kind', sa.String(length=8), nullable=False),
        sa.Column('subject_label', sa.String(length=40), nullable=False),
        sa.Column('item_id', sa.String(length=40), nullable=True),
        sa.Column('department_id', sa.String(length=40), nullable=True),
        sa.Column('window_id', sa.String(length=40), nullable=True),
        sa.Column('staff', sa.String(length=40), nullable=True),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('indicators', sa.JSON(), nullable=False),
        sa.Column('comment', sa.String(length=500), nullable=True),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('station', sa.String(length=40), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['request_id'], ['evaluation_requests.id'], name=op.f('fk_evaluations_request_id_evaluation_requests')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluations')),
        sa.UniqueConstraint('request_id', name=op.f('uq_evaluations_request_id'))
    )
    op.create_index(op.f('ix_evaluations_at'), 'evaluations', ['at'], unique=False)
    op.create_table('evaluation_followups',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('hall_id', sa.String(length=40), nullable=False),
        sa.Column('evaluation_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('opened_at', sa.DateTime(), nullable=False),
        sa.Column('due_on', sa.String(length=10), nullable=False),
        sa.Column('steps', sa.JSON(), nullable=False),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], name=op.f('fk_evaluation_followups_evaluation_id_evaluations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_followups')),
        sa.UniqueConstraint('evaluation_id', name=op.f('uq_evaluation_followups_evaluation_id'))
    )

    # The history of every case is append-only: refuse UPDATE and DELETE in the database itself.
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_TRIGGERS if dialect == "sqlite" else _PG_TRIGGERS if dialect == "postgresql" else ():
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS case_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS case_log_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS case_log_no_change ON case_log")
        op.execute("DROP FUNCTION IF EXISTS case_log_append_only()")
    op.drop_table('evaluation_followups')
    op.drop_index(op.f('ix_evaluations_at'), table_name='evaluations')
    op.drop_table('evaluations')
    op.drop_index(op.f('ix_case_suspensions_case_id'), table_name='case_suspensions')
    op.drop_table('case_suspensions')
    op.drop_index(op.f('ix_case_notices_case_id'), table_name='case_notices')
    op.drop_table('case_notices')
    op.drop_table('evaluation_requests')
    op.drop_index('ix_cases_person', table_name='cases')
    op.drop_index('ix_cases_open', table_name='cases')
    op.drop_table('cases')
    op.drop_index('ix_case_log_subject', table_name='case_log')
    op.drop_table('case_log')
    op.drop_table('approver_presence')
