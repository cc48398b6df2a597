from django.contrib import admin
from django_rq.models import Dashboard

from diagnostics.queue_admin import QueueAdmin

# django-rq registers its dashboard for any staff user; ours asks for the permission.
if admin.site.is_registered(Dashboard):
    admin.site.unregister(Dashboard)
admin.site.register(Dashboard, QueueAdmin)
