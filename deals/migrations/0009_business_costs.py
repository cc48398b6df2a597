"""Business costs in the database (with history), the minimum listing price, and no price of 0."""

import django.db.models.deletion
import django.utils.timezone
import simple_history.models
from django.conf import settings
from django.db import migrations, models


def no_zero_prices(apps, schema_editor):
    """A price now or buy price of 0 was a book "bought" for nothing: it becomes "no value"
    (the deal hidden as incomplete, as the write path leaves it) before the rules forbid 0."""
    Deal = apps.get_model("deals", "Deal")
    zero = Deal.objects.filter(price_now_cents=0)
    zero.exclude(quality="unrepairable").update(quality="incomplete", quality_reason="no used price now")
    zero.update(
        price_now_cents=None,
        percent_down=None,
        all_in_cost_cents=None,
        amazon_fees_cents=None,
        profit_cents=None,
        margin_percent=None,
        roi_percent=None,
    )
    Deal.objects.filter(buy_price_cents=0).update(buy_price_cents=None)


class Migration(migrations.Migration):

    dependencies = [
        ('deals', '0008_audit'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='BusinessCosts',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('tax_percent', models.DecimalField(decimal_places=3, help_text='On the buy price; 0 when tax-exempt.', max_digits=6, verbose_name='sales tax %')),
                ('prep_fee_cents', models.BigIntegerField(verbose_name='prep fee per book (¢)')),
                ('inbound_shipping_cents', models.BigIntegerField(verbose_name='inbound shipping per book (¢)')),
                ('default_fba_fee_cents', models.BigIntegerField(help_text="Keepa's own fee wins when it has one.", verbose_name='FBA pick & pack when Keepa lacks it (¢)')),
                ('default_referral_percent', models.DecimalField(decimal_places=2, max_digits=5, verbose_name='referral % when Keepa lacks it')),
                ('markup_percent', models.DecimalField(decimal_places=2, help_text="Profit on the all-in cost a listing must make: sets each deal's minimum listing price.", max_digits=6, verbose_name='default markup %')),
                ('min_profit_cents', models.BigIntegerField(help_text='Verification spends no offer tokens on an estimate below it.', verbose_name='minimum profit (¢)')),
                ('min_roi_percent', models.DecimalField(decimal_places=2, help_text='Verification spends no offer tokens on an estimate below it.', max_digits=7, verbose_name='minimum ROI %')),
                ('acceptable_conditions', models.JSONField(help_text='Keepa offer condition codes a seller buys (2-5: used Like New to Acceptable).')),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'verbose_name': 'business costs',
                'verbose_name_plural': 'business costs',
            },
        ),
        migrations.CreateModel(
            name='HistoricalBusinessCosts',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('tax_percent', models.DecimalField(decimal_places=3, help_text='On the buy price; 0 when tax-exempt.', max_digits=6, verbose_name='sales tax %')),
                ('prep_fee_cents', models.BigIntegerField(verbose_name='prep fee per book (¢)')),
                ('inbound_shipping_cents', models.BigIntegerField(verbose_name='inbound shipping per book (¢)')),
                ('default_fba_fee_cents', models.BigIntegerField(help_text="Keepa's own fee wins when it has one.", verbose_name='FBA pick & pack when Keepa lacks it (¢)')),
                ('default_referral_percent', models.DecimalField(decimal_places=2, max_digits=5, verbose_name='referral % when Keepa lacks it')),
                ('markup_percent', models.DecimalField(decimal_places=2, help_text="Profit on the all-in cost a listing must make: sets each deal's minimum listing price.", max_digits=6, verbose_name='default markup %')),
                ('min_profit_cents', models.BigIntegerField(help_text='Verification spends no offer tokens on an estimate below it.', verbose_name='minimum profit (¢)')),
                ('min_roi_percent', models.DecimalField(decimal_places=2, help_text='Verification spends no offer tokens on an estimate below it.', max_digits=7, verbose_name='minimum ROI %')),
                ('acceptable_conditions', models.JSONField(help_text='Keepa offer condition codes a seller buys (2-5: used Like New to Acceptable).')),
                ('actor', models.CharField(blank=True, help_text='The job that wrote this row (backfill, repair, verification...); blank for staff.', max_length=40)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
            ],
            options={
                'verbose_name': 'historical business costs',
                'verbose_name_plural': 'historical business costs',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.RemoveConstraint(
            model_name='deal',
            name='deal_price_now_cents_not_negative',
        ),
        migrations.RemoveConstraint(
            model_name='deal',
            name='deal_buy_price_cents_not_negative',
        ),
        migrations.RemoveIndex(
            model_name='deal',
            name='deal_displayable_profit_idx',
        ),
        migrations.RemoveIndex(
            model_name='deal',
            name='deal_displayable_margin_idx',
        ),
        migrations.RemoveIndex(
            model_name='deal',
            name='deal_displayable_rank_idx',
        ),
        migrations.AddField(
            model_name='deal',
            name='min_list_price_cents',
            field=models.BigIntegerField(blank=True, help_text='The repricer floor: the lowest List at that still makes the markup on the all-in cost.', null=True, verbose_name='minimum listing price (¢)'),
        ),
        migrations.AddField(
            model_name='historicaldeal',
            name='min_list_price_cents',
            field=models.BigIntegerField(blank=True, help_text='The repricer floor: the lowest List at that still makes the markup on the all-in cost.', null=True, verbose_name='minimum listing price (¢)'),
        ),
        migrations.RunPython(no_zero_prices, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='deal',
            index=models.Index(models.OrderBy(models.F('profit_cents'), descending=True), models.F('asin'), condition=models.Q(('expired_at__isnull', True), ('list_at_cents__gt', 0), ('one_year_avg_cents__gt', 0), ('price_now_cents__gt', 0), ('profit_cents__gt', 0), ('quality', 'complete'), ('verification__in', ('estimate', 'verified')), models.Q(('verification', 'estimate'), ('buy_price_cents__gt', 0), _connector='OR')), name='deal_displayable_profit_idx'),
        ),
        migrations.AddIndex(
            model_name='deal',
            index=models.Index(models.OrderBy(models.F('margin_percent'), descending=True), models.F('asin'), condition=models.Q(('expired_at__isnull', True), ('list_at_cents__gt', 0), ('one_year_avg_cents__gt', 0), ('price_now_cents__gt', 0), ('profit_cents__gt', 0), ('quality', 'complete'), ('verification__in', ('estimate', 'verified')), models.Q(('verification', 'estimate'), ('buy_price_cents__gt', 0), _connector='OR')), name='deal_displayable_margin_idx'),
        ),
        migrations.AddIndex(
            model_name='deal',
            index=models.Index(models.F('sales_rank'), models.F('asin'), condition=models.Q(('expired_at__isnull', True), ('list_at_cents__gt', 0), ('one_year_avg_cents__gt', 0), ('price_now_cents__gt', 0), ('profit_cents__gt', 0), ('quality', 'complete'), ('verification__in', ('estimate', 'verified')), models.Q(('verification', 'estimate'), ('buy_price_cents__gt', 0), _connector='OR')), name='deal_displayable_rank_idx'),
        ),
        migrations.AddConstraint(
            model_name='deal',
            constraint=models.CheckConstraint(condition=models.Q(('price_now_cents__isnull', True), ('price_now_cents__gt', 0), _connector='OR'), name='deal_price_now_cents_positive', violation_error_message='Price now must be more than $0.'),
        ),
        migrations.AddConstraint(
            model_name='deal',
            constraint=models.CheckConstraint(condition=models.Q(('min_list_price_cents__isnull', True), ('min_list_price_cents__gt', 0), _connector='OR'), name='deal_min_list_price_cents_positive', violation_error_message='Minimum listing price must be more than $0.'),
        ),
        migrations.AddConstraint(
            model_name='deal',
            constraint=models.CheckConstraint(condition=models.Q(('buy_price_cents__isnull', True), ('buy_price_cents__gt', 0), _connector='OR'), name='deal_buy_price_cents_positive', violation_error_message='Buy price must be more than $0.'),
        ),
        migrations.AddConstraint(
            model_name='businesscosts',
            constraint=models.CheckConstraint(condition=models.Q(('id', 1)), name='costs_single_row', violation_error_message='There is one costs row.'),
        ),
        migrations.AddConstraint(
            model_name='businesscosts',
            constraint=models.CheckConstraint(condition=models.Q(('tax_percent__gte', 0), ('tax_percent__lte', 100)), name='costs_tax_percent_range', violation_error_message='Sales tax must be between 0 and 100 percent.'),
        ),
        migrations.AddConstraint(
            model_name='businesscosts',
            constraint=models.CheckConstraint(condition=models.Q(('prep_fee_cents__gte', 0)), name='costs_prep_fee_cents_range', violation_error_message='The prep fee must not be negative.'),
        ),
        migrations.AddConstraint(
            model_name='businesscosts',
            constraint=models.CheckConstraint(condition=models.Q(('inbound_shipping_cents__gte', 0)), name='costs_inbound_shipping_cents_range', violation_error_message='Inbound shipping must not be negative.'),
        ),
        migrations.AddConstraint(
            model_name='businesscosts',
            constraint=models.CheckConstraint(condition=models.Q(('default_fba_fee_cents__gte', 0)), name='costs_default_fba_fee_cents_range', violation_error_message='The FBA fee must not be negative.'),
        ),
        migrations.AddConstraint(
            model_name='businesscosts',
            constraint=models.CheckConstraint(condition=models.Q(('default_referral_percent__gte', 0), ('default_referral_percent__lt', 100)), name='costs_default_referral_percent_range', violation_error_message='The referral must be at least 0 and under 100 percent.'),
        ),
        migrations.AddConstraint(
            model_name='businesscosts',
            constraint=models.CheckConstraint(condition=models.Q(('markup_percent__gte', 0), ('markup_percent__lte', 1000)), name='costs_markup_percent_range', violation_error_message='The markup must be between 0 and 1000 percent.'),
        ),
        migrations.AddConstraint(
            model_name='businesscosts',
            constraint=models.CheckConstraint(condition=models.Q(('min_profit_cents__gte', 0)), name='costs_min_profit_cents_range', violation_error_message='The minimum profit must not be negative.'),
        ),
        migrations.AddConstraint(
            model_name='businesscosts',
            constraint=models.CheckConstraint(condition=models.Q(('min_roi_percent__gte', -100), ('min_roi_percent__lte', 10000)), name='costs_min_roi_percent_range', violation_error_message='The minimum ROI must be between -100 and 10000 percent.'),
        ),
        migrations.AddField(
            model_name='historicalbusinesscosts',
            name='history_user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
    ]
