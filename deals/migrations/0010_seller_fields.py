"""Seller fields (deal trust, trough, the 1yr average's source), filter presets and dashboard visits.

The list's covering index now carries verification in its predicate and the seller's filter
columns; 0003's database-only covering index (older predicate) is dropped in its favour.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


OLD_COVER = "deal_displayable_profit_cover_idx"


def drop_old_cover(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {OLD_COVER}")


def create_old_cover(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {OLD_COVER} ON deals_deal (profit_cents DESC, asin) "
            "INCLUDE (sales_rank, margin_percent, roi_percent) WHERE quality = 'complete' "
            "AND expired_at IS NULL AND profit_cents > 0 AND list_at_cents > 0 AND one_year_avg_cents > 0"
        )


TRUST_INDEX = "deal_displayable_trust_idx"
DISPLAYABLE = (
    "quality = 'complete' AND expired_at IS NULL AND profit_cents > 0 AND list_at_cents > 0 "
    "AND one_year_avg_cents > 0 AND verification IN ('estimate', 'verified')"
)


def create_trust_index(apps, schema_editor):
    """``ordering=-deal_trust_percent`` sorts DESC NULLS LAST, which SQLite cannot index: a
    database-only index on PostgreSQL, as 0003's was."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {TRUST_INDEX} ON deals_deal "
            f"(deal_trust_percent DESC NULLS LAST, asin) WHERE {DISPLAYABLE}"
        )


def drop_trust_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRUST_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0009_business_costs"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DashboardVisit",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("since", models.DateTimeField()),
                ("last_seen_at", models.DateTimeField()),
            ],
        ),
        migrations.CreateModel(
            name="FilterPreset",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                (
                    "params",
                    models.JSONField(default=dict, help_text="Query parameters of /api/deals/, as strings."),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "ordering": ["name"],
            },
        ),
        migrations.AddField(
            model_name="deal",
            name="deal_trust_percent",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                help_text="Share of offer-count drops a sales-rank drop confirmed as a sale (two years).",
                max_digits=5,
                null=True,
                verbose_name="deal trust %",
            ),
        ),
        migrations.AddField(
            model_name="deal",
            name="expected_trough_cents",
            field=models.BigIntegerField(
                blank=True,
                help_text="The median sale price in the trough month.",
                null=True,
                verbose_name="expected trough (¢)",
            ),
        ),
        migrations.AddField(
            model_name="deal",
            name="one_year_avg_source",
            field=models.CharField(
                blank=True,
                choices=[("sales", "Inferred sales"), ("keepa", "Estimate (Keepa's listing average)")],
                max_length=5,
                verbose_name="1yr avg source",
            ),
        ),
        migrations.AddField(
            model_name="deal",
            name="trough_season",
            field=models.CharField(
                blank=True,
                help_text="The month the inferred sales were cheapest: the time to buy.",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="historicaldeal",
            name="deal_trust_percent",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                help_text="Share of offer-count drops a sales-rank drop confirmed as a sale (two years).",
                max_digits=5,
                null=True,
                verbose_name="deal trust %",
            ),
        ),
        migrations.AddField(
            model_name="historicaldeal",
            name="expected_trough_cents",
            field=models.BigIntegerField(
                blank=True,
                help_text="The median sale price in the trough month.",
                null=True,
                verbose_name="expected trough (¢)",
            ),
        ),
        migrations.AddField(
            model_name="historicaldeal",
            name="one_year_avg_source",
            field=models.CharField(
                blank=True,
                choices=[("sales", "Inferred sales"), ("keepa", "Estimate (Keepa's listing average)")],
                max_length=5,
                verbose_name="1yr avg source",
            ),
        ),
        migrations.AddField(
            model_name="historicaldeal",
            name="trough_season",
            field=models.CharField(
                blank=True,
                help_text="The month the inferred sales were cheapest: the time to buy.",
                max_length=20,
            ),
        ),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                models.F("created_at"),
                condition=models.Q(
                    ("expired_at__isnull", True),
                    ("list_at_cents__gt", 0),
                    ("one_year_avg_cents__gt", 0),
                    ("price_now_cents__gt", 0),
                    ("profit_cents__gt", 0),
                    ("quality", "complete"),
                    ("verification__in", ("estimate", "verified")),
                    models.Q(("verification", "estimate"), ("buy_price_cents__gt", 0), _connector="OR"),
                ),
                name="deal_displayable_created_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="deal",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("expected_trough_cents__isnull", True), ("expected_trough_cents__gt", 0), _connector="OR"
                ),
                name="deal_expected_trough_cents_positive",
                violation_error_message="Expected trough must be more than $0.",
            ),
        ),
        migrations.AddConstraint(
            model_name="deal",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("deal_trust_percent__isnull", True),
                    models.Q(("deal_trust_percent__gte", 0), ("deal_trust_percent__lte", 100)),
                    _connector="OR",
                ),
                name="deal_deal_trust_percent_range",
                violation_error_message="Deal trust must be between 0 and 100 percent.",
            ),
        ),
        migrations.AddField(
            model_name="dashboardvisit",
            name="user",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="dashboard_visit",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="filterpreset",
            name="user",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="filter_presets",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="filterpreset",
            constraint=models.UniqueConstraint(
                models.F("user"), models.F("name"), name="filterpreset_user_name_unique"
            ),
        ),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                models.OrderBy(models.F("profit_cents"), descending=True),
                models.F("asin"),
                condition=models.Q(
                    ("expired_at__isnull", True),
                    ("list_at_cents__gt", 0),
                    ("one_year_avg_cents__gt", 0),
                    ("price_now_cents__gt", 0),
                    ("profit_cents__gt", 0),
                    ("quality", "complete"),
                    ("verification__in", ("estimate", "verified")),
                    models.Q(("verification", "estimate"), ("buy_price_cents__gt", 0), _connector="OR"),
                    ("verification", "verified"),
                ),
                include=(
                    "sales_rank",
                    "margin_percent",
                    "roi_percent",
                    "percent_down",
                    "sales_rank_drops_30",
                    "deal_trust_percent",
                    "seller_score",
                    "amazon_sells",
                    "fulfillment",
                ),
                name="deal_listed_profit_cover_idx",
            ),
        ),
        migrations.RunPython(create_trust_index, drop_trust_index, elidable=False),
        migrations.RunPython(drop_old_cover, create_old_cover, elidable=False),
    ]
