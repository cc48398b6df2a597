# Reserved for the audit and records work (issue 13).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("deals", "0007_reliability")]

    operations = []
