from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from diagnostics import queue_admin

urlpatterns = [
    path("", include("diagnostics.urls")),
    # django-rq's pages behind its permission, not just is_staff (diagnostics/queue_admin.py).
    path("admin/django-rq/", include((queue_admin.urlpatterns(), "django_rq"))),
    path("admin/", admin.site.urls),
    # Sellers sign in here, not on the admin's page (which is for staff).
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="deals/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/tokens/", include("tokens.api.urls")),
    path("api/deals/", include("deals.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("deals.urls")),
]
