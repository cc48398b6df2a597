from django.urls import path, re_path

from deals.api.views import (
    DealDetailView,
    DealListView,
    FilterPresetDetailView,
    FilterPresetListView,
    NewDealsView,
)

app_name = "deals-api"

urlpatterns = [
    path("", DealListView.as_view(), name="list"),
    # Lower case, so never an ASIN: these come before the detail's catch-all.
    path("new/", NewDealsView.as_view(), name="new"),
    path("presets/", FilterPresetListView.as_view(), name="presets"),
    path("presets/<int:pk>/", FilterPresetDetailView.as_view(), name="preset"),
    # Any text (slashes, newlines, nothing) reaches the view, so a bad ASIN gets its JSON 404.
    re_path(r"^(?P<asin>[\s\S]*)/$", DealDetailView.as_view(), name="detail"),
]
