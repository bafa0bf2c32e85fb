"""Compliance app: US security conditions, findings, rules, sweep, alerts, webhooks, tasks."""
