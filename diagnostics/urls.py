from django.urls import path

from diagnostics.views import healthz

urlpatterns = [path("healthz", healthz, name="healthz")]
