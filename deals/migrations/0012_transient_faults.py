# Candidates count Keepa's transient faults apart from their attempts (issue 14).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("deals", "0011_seller_accounts")]

    operations = [
        migrations.AddField(
            model_name="candidate",
            name="transient_failures",
            field=models.PositiveSmallIntegerField(
                default=0,
                help_text="Keepa faults (5xx, timeouts, cut-off answers) since the last fetch: each backs "
                "the candidate off, none counts as an attempt.",
            ),
        ),
    ]
