# Seller accounts (the "sellers" group) and what the deal view draws and explains.
from django.db import migrations, models

SELLERS_GROUP = "sellers"  # dealsite.access.SELLERS_GROUP, frozen here as migrations must be


def create_sellers_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=SELLERS_GROUP)


def remove_sellers_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=SELLERS_GROUP).delete()


LIST_AT_BASIS_HELP = "How List at was computed: sales, peak month, Amazon cap."


class Migration(migrations.Migration):
    dependencies = [("deals", "0010_seller_fields"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.RunPython(create_sellers_group, remove_sellers_group),
        migrations.AddField(
            model_name="deal",
            name="chart_history",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="Two years of used, new and Amazon prices and sales rank, and the inferred sales.",
            ),
        ),
        migrations.AddField(
            model_name="deal",
            name="list_at_basis",
            field=models.JSONField(blank=True, default=dict, help_text=LIST_AT_BASIS_HELP),
        ),
        migrations.AddField(
            model_name="historicaldeal",
            name="list_at_basis",
            field=models.JSONField(blank=True, default=dict, help_text=LIST_AT_BASIS_HELP),
        ),
    ]
