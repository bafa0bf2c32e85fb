"""Project package and top app: US security conditions, findings, alerts, API plumbing."""

from .celery import app as celery_app

__all__ = ("celery_app",)
