# Reserved for the reliability work (issue 14: job chains).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("deals", "0006_verification")]

    operations = []
