# Reserved for the seller fields and presets work (issue 12).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("deals", "0009_business_costs")]

    operations = []
