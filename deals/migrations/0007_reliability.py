# JobRun: the rq job id of each run and the "abandoned" outcome (issue 14, job chains).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("deals", "0006_verification")]

    operations = [
        migrations.AddField(
            model_name="jobrun",
            name="job_id",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AlterField(
            model_name="jobrun",
            name="outcome",
            field=models.CharField(
                choices=[
                    ("running", "Running"),
                    ("ok", "Completed"),
                    ("waiting", "Waiting for tokens"),
                    ("failed", "Failed"),
                    ("abandoned", "Abandoned (worker died)"),
                ],
                default="running",
                max_length=16,
            ),
        ),
    ]
