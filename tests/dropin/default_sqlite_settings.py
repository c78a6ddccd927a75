"""The scheduler subprocess settings on startproject's default SQLite options (none at all)."""

from tests.subprocess_settings import *  # noqa: F403

DATABASES = {  # noqa: F405
    "default": {"ENGINE": DATABASES["default"]["ENGINE"], "NAME": DATABASES["default"]["NAME"]}  # noqa: F405
}
