from django.urls import path, re_path

from deals.api.views import DealDetailView, DealListView

app_name = "deals-api"

urlpatterns = [
    path("", DealListView.as_view(), name="list"),
    # Any text (slashes, newlines, nothing) reaches the view, so a bad ASIN gets its JSON 404.
    re_path(r"^(?P<asin>[\s\S]*)/$", DealDetailView.as_view(), name="detail"),
]
