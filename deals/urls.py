"""Page routes of the deals app (the API has its own under ``deals/api``)."""

from django.urls import path

from deals import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
