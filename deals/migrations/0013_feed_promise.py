# Discovered candidates carry the profit the deal feed's prices promise (issue 11).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("deals", "0012_transient_faults")]

    operations = [
        migrations.AddField(
            model_name="candidate",
            name="feed_profit_cents",
            field=models.IntegerField(
                blank=True,
                help_text="The profit the deal feed's prices promise (current used price, listed at the "
                "90-day used average, default fees): the claim order ranks discovered candidates by it.",
                null=True,
                verbose_name="feed promise (¢)",
            ),
        ),
    ]
