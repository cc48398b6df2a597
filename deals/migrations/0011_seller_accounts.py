# Reserved for the seller accounts and deal view work (issue 12).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("deals", "0010_seller_fields")]

    operations = []
