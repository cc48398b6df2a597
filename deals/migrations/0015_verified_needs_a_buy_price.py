"""A verified deal must name its buy price: "buy price > 0" alone let a NULL one through
(a staff edit could blank it), leaving a deal marked verified with no offer to buy.

A deal stored that way is an estimate again (the verification policy checks it anew), then
the check is remade to refuse it.
"""

from django.db import migrations, models

DEMOTED_REASON = "marked verified without a buy price: to be checked again"


def demote_verified_without_a_buy_price(apps, schema_editor):
    Deal = apps.get_model("deals", "Deal")
    Deal.objects.filter(verification="verified", buy_price_cents__isnull=True).update(
        verification="estimate", verification_reason=DEMOTED_REASON
    )


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0014_lean_indexes"),
    ]

    operations = [
        migrations.RunPython(demote_verified_without_a_buy_price, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="deal",
            name="deal_verified_has_its_offer",
        ),
        migrations.AddConstraint(
            model_name="deal",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("verification", "verified"), _negated=True),
                    models.Q(
                        ("buy_price_cents__gt", 0),
                        ("buy_price_cents__isnull", False),
                        ("condition_code__isnull", False),
                        ("verified_at__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="deal_verified_has_its_offer",
                violation_error_message="A verified deal needs the offer's buy price, condition and time.",
            ),
        ),
    ]
