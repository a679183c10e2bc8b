"""job runs: the job queue's tables (huey), what each job attempt did, and a run's status

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# huey 3's own schema (huey.storage.SqliteStorage / PostgresStorage with the table prefix "huey"),
# written here so that the web process never runs DDL: the queue is created with create_tables=False.
SQLITE_QUEUE = [
    'create table if not exists kv (queue text not null, key text not null, value blob not null, '
    'primary key(queue, key))',
    'create table if not exists schedule (id integer not null primary key, queue text not null, '
    'data blob not null, timestamp real not null)',
    'create index if not exists schedule_queue_timestamp on schedule (queue, timestamp)',
    'create table if not exists task (id integer not null primary key, queue text not null, '
    'data blob not null, priority real not null default 0.0)',
    'create index if not exists task_queue_priority_id on task (queue, priority desc, id)',
    'create table if not exists counter (queue text not null, key text not null, '
    'value integer not null default 0, primary key(queue, key))',
]
POSTGRES_QUEUE = [
    'create table if not exists huey_kv (queue text not null, key text not null, value bytea not null, '
    'primary key(queue, key))',
    'create table if not exists huey_schedule (id bigserial primary key, queue text not null, '
    'data bytea not null, timestamp double precision not null)',
    'create index if not exists huey_schedule_queue_timestamp on huey_schedule (queue, timestamp)',
    'create table if not exists huey_task (id bigserial primary key, queue text not null, '
    'data bytea not null, priority double precision not null default 0.0)',
    'create index if not exists huey_task_queue_priority_id on huey_task (queue, priority desc, id)',
    'create table if not exists huey_counter (queue text not null, key text not null, '
    'value bigint not null default 0, primary key(queue, key))',
]


def _postgres() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def upgrade() -> None:
    for statement in POSTGRES_QUEUE if _postgres() else SQLITE_QUEUE:
        op.execute(statement)

    op.create_table('job_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=300), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_run')),
    sa.UniqueConstraint('task_id', name=op.f('uq_job_run_task_id'))
    )
    op.create_index(op.f('ix_job_run_started_at'), 'job_run', ['started_at'], unique=False)
    op.create_index(op.f('ix_job_run_status'), 'job_run', ['status'], unique=False)

    # Runs from before the queue ran in the request and finished there. (SQLite keeps the column
    # default, which changing would mean rebuilding the table; every insert names the status.)
    op.add_column('match_run', sa.Column('status', sa.String(length=16), nullable=False, server_default='finished'))
    op.add_column('match_run', sa.Column('error', sa.String(length=300), nullable=True))
    if _postgres():
        op.alter_column('match_run', 'status', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('match_run') as batch:
        batch.drop_column('error')
        batch.drop_column('status')
    op.drop_index(op.f('ix_job_run_status'), table_name='job_run')
    op.drop_index(op.f('ix_job_run_started_at'), table_name='job_run')
    op.drop_table('job_run')
    names = ('huey_kv', 'huey_schedule', 'huey_task', 'huey_counter') if _postgres() else ('kv', 'schedule', 'task', 'counter')
    for name in names:
        op.execute(f'drop table if exists {name}')
