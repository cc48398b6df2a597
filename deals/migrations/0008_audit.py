# Audit: the job that wrote each history row; what a JobRun's counts mean.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("deals", "0007_reliability")]

    operations = [
        migrations.AddField(
            model_name="historicaldeal",
            name="actor",
            field=models.CharField(
                blank=True,
                help_text="The job that wrote this row (backfill, repair, verification...); blank for staff.",
                max_length=40,
            ),
        ),
        migrations.AddField(
            model_name="historicaldiscoveryselection",
            name="actor",
            field=models.CharField(
                blank=True,
                help_text="The job that wrote this row (backfill, repair, verification...); blank for staff.",
                max_length=40,
            ),
        ),
        migrations.AlterField(
            model_name="jobrun",
            name="processed",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Discover: candidates queued. Backfill and repair: deals written. Verify: deals checked.",
            ),
        ),
        migrations.AlterField(
            model_name="jobrun",
            name="tokens_consumed",
            field=models.PositiveIntegerField(default=0, help_text="What Keepa charged this run."),
        ),
    ]
