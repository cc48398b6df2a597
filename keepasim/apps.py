from django.apps import AppConfig


class KeepasimConfig(AppConfig):
    """Installed only so ``manage.py keepa_simulator`` is found; there are no models."""

    name = "keepasim"
    verbose_name = "Keepa simulator"
