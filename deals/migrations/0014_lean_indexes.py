"""Indexes a recalculation of every deal must update, cut to the ones a query uses.

A new costs row rewrites every deal, and PostgreSQL adds an entry to each index for each row
rewritten: every index costs a recalculation about five seconds per million deals.

- The repair index covered every deal, on (quality, next_repair_at), which the repair
  query's OR of missing figures could not use. It becomes a partial index on the deals that
  need repair (``NEEDS_REPAIR``), the few rows that query reads, in its order.
- Django's ``varchar_pattern_ops`` twin of the unique ASIN index served ``LIKE 'x%'`` on the
  ASIN, which nothing runs (the admin's ASIN search compares upper case, which that index
  cannot serve). PostgreSQL only.
"""

from django.db import migrations, models

ASIN_PATTERN_INDEX = """
    SELECT indexname FROM pg_indexes
    WHERE tablename = 'deals_deal' AND indexdef LIKE '%%(asin varchar_pattern_ops)%%'
"""


def drop_asin_pattern_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(ASIN_PATTERN_INDEX)
        names = [name for (name,) in cursor.fetchall()]
    for name in names:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def create_asin_pattern_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            'CREATE INDEX IF NOT EXISTS "deals_deal_asin_c5af51c8_like" '
            'ON "deals_deal" ("asin" varchar_pattern_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0013_feed_promise"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="deal",
            name="deal_repair_idx",
        ),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                models.F("next_repair_at"),
                models.F("id"),
                condition=models.Q(
                    models.Q(
                        ("quality", "incomplete"),
                        ("list_at_cents__isnull", True),
                        ("one_year_avg_cents__isnull", True),
                        ("profit_cents__isnull", True),
                        ("price_now_cents__isnull", True),
                        _connector="OR",
                    ),
                    ("expired_at__isnull", True),
                    models.Q(("quality", "unrepairable"), _negated=True),
                ),
                name="deal_repair_due_idx",
            ),
        ),
        migrations.RunPython(drop_asin_pattern_index, create_asin_pattern_index, elidable=False),
    ]
