"""Initial schema: accounts, mcp_servers, api_tokens, audit, oauth_states.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from connector_gateway.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("connector", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("base_url", sa.String(2000), nullable=True),
        sa.Column("credentials", sa.LargeBinary, nullable=False),
        sa.Column("credentials_version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "mcp_servers",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("tool_mode", sa.String(20), nullable=False),
        sa.Column("scope", sa.JSON, nullable=False),
        sa.Column("read_only", sa.Boolean, nullable=False),
        sa.Column("require_api_token", sa.Boolean, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=True),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("token_hash", name="uq_mcp_servers_token_hash"),
    )
    op.create_index("ix_mcp_servers_account_id", "mcp_servers", ["account_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("accounts", sa.JSON, nullable=True),
        sa.Column("scopes", sa.JSON, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("time", UTCDateTime, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("action", sa.String(500), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("caller_kind", sa.String(20), nullable=False),
        sa.Column("caller_id", sa.String(40), nullable=True),
        sa.Column("account_id", sa.String(40), nullable=True),
        sa.Column("server_id", sa.String(40), nullable=True),
        sa.Column("arguments", sa.JSON, nullable=True),
    )
    op.create_index("ix_audit_account_time", "audit", ["account_id", "time"])
    op.create_index("ix_audit_time", "audit", ["time"])
    op.create_table(
        "oauth_states",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("connector", sa.String(100), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("oauth_states")
    op.drop_index("ix_audit_time", "audit")
    op.drop_index("ix_audit_account_time", "audit")
    op.drop_table("audit")
    op.drop_table("api_tokens")
    op.drop_index("ix_mcp_servers_account_id", "mcp_servers")
    op.drop_table("mcp_servers")
    op.drop_table("accounts")
