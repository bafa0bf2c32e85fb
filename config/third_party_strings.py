"""Strings of third-party apps that reach the admin without a Chinese translation.

django-celery-results ships its zh_Hans catalogue uncompiled (no ``.mo``), Django 5.2's lacks
the app list's newer table headers, and djangorestframework-api-key does not mark its model
names (``cockpit.apps`` marks them at start-up). Listing the messages here puts them in
config's catalogue, which ``LOCALE_PATHS`` searches before the apps' own.
"""

from django.utils.translation import gettext_noop

THIRD_PARTY_STRINGS = (
    # django.contrib.admin: admin/app_list.html
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    # django-celery-results
    gettext_noop("Celery Results"),
    gettext_noop("task result"),
    gettext_noop("task results"),
    gettext_noop("group result"),
    gettext_noop("group results"),
    # djangorestframework-api-key
    gettext_noop("API key"),
    gettext_noop("API keys"),
)
