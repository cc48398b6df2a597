# Reserved for the transient faults work (issue 14).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("deals", "0011_seller_accounts")]

    operations = []
