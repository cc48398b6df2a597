"""Page routes of the deals app (the API has its own under ``deals/api``)."""

from django.urls import path

from deals import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("deals/<str:asin>/", views.deal_detail, name="deal-detail"),
]
