# Reserved for the business costs work (issue 12).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("deals", "0008_audit")]

    operations = []
