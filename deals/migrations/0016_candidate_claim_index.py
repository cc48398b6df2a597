"""Claims read the backlog in ``backlog.claim_order``: priority, then the feed's promise
(NULLS LAST), then the longest due. The old index served only priority and due time, so a
claim sorted every pending candidate: about a second with a million of them, which the
candidates promising no profit pile up to. This index serves the order itself.

PostgreSQL only: SQLite cannot index NULLS LAST (as 0010's trust index).
"""

from django.db import migrations

CLAIM_INDEX = "candidate_claim_idx"


def create_claim_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {CLAIM_INDEX} ON deals_candidate "
            "(priority DESC, feed_profit_cents DESC NULLS LAST, due_at, id) WHERE status = 'pending'"
        )


def drop_claim_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {CLAIM_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0015_verified_needs_a_buy_price"),
    ]

    operations = [migrations.RunPython(create_claim_index, drop_claim_index)]
