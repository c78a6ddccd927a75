"""The OpenAPI 3 schema of the API, mounted at ``/api/v1/``."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="scheduler-api-schema"),
]
