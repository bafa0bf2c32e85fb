"""Per-language formats (FORMAT_MODULE_PATH): what differs from Django's own for each language.

Anything not set here falls back to Django's locale formats.
"""
