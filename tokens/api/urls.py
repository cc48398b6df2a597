from django.urls import path

from tokens.api.views import BucketStatusView, RechargeView

app_name = "tokens-api"

urlpatterns = [
    path("status/", BucketStatusView.as_view(), name="status"),
    path("recharge/", RechargeView.as_view(), name="recharge"),
]
