"""Index mcp_servers.revoked_at: the per-worker revocation sweep (`Store._sweep_revocations`)
asks for servers revoked since a time on every sweep.

The other hot-path statements are already served: accounts by id (primary key), servers and API
tokens by token hash (unique), audit by account and time / by time (indexes of 0001).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_mcp_servers_revoked_at", "mcp_servers", ["revoked_at"])


def downgrade() -> None:
    op.drop_index("ix_mcp_servers_revoked_at", table_name="mcp_servers")
