"""Settings for the chip-import compliance service.

Everything that differs between a laptop and production comes from the environment
(django-environ). With no environment at all the service runs on an embedded default:
SQLite under ``var/`` and Celery's filesystem broker, so ``make run`` needs no server.
"""

from __future__ import annotations

from pathlib import Path

import environ
from csp.constants import NONCE

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
# A local checkout's .env (written by `make install`: DEBUG=1) fills in what the real
# environment does not set; production sets variables and has no .env (.dockerignore).
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)

# A development key only when DEBUG is on; production must supply its own.
if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-change-me-please-0123456789abcdef")
else:
    SECRET_KEY = env.str("SECRET_KEY")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "import_export",
    "django_celery_beat",
    "django_celery_results",
    "health_check",
    "axes",  # admin login lockout (see "Throttling and lockout" below)
    # Our apps, lowest first: licences <- quotas <- compliance <- cockpit (the layers with common/,
    # api/ and config/: .importlinter, checked by `make lint`). The dev-only benchmarks app is
    # installed by config.settings_bench and the test settings, never in production.
    "licences",
    "quotas",
    "compliance",
    "cockpit",  # the regulator's dashboard (views, template tags): above the domain apps
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A staff user's remembered language over the browser's (cockpit.language; issue 15).
    "cockpit.language.StaffLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last (before the metrics bookend): django-axes answers a locked-out login attempt.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Templates live with their owner: an app's in <app>/templates/ (cockpit, licences). Here only
        # what no app can hold: overrides of the admin's and drf-spectacular's own templates (an app
        # listed after those apps never wins; the admin's branding and front page, axes' lockout
        # page and the Swagger UI page of config.urls), and the decision pages of common.admin_helpers
        # (common is a plain package, not an app).
        "DIRS": [BASE_DIR / "config" / "templates", BASE_DIR / "common" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Web, worker and beat share the file. Each transaction takes the write lock when it begins
    # (IMMEDIATE), so one that read first and writes later waits for the lock (up to ``timeout``)
    # instead of failing at once with "database is locked" (a deferred transaction cannot wait to
    # upgrade its read lock while another writes); WAL lets reads go on during a write.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20,
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL;",
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The covering index on shipments (INCLUDE columns) is a PostgreSQL optimisation; SQLite
# keeps the index and ignores the extra columns, which is all the embedded default needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
FORMS_URLFIELD_ASSUME_HTTPS = True

# --- Cache (ops: shared throttle counters) -------------------------------------------
# Throttle counters must be shared by every web process: CACHE_URL when set (any
# django-environ cache URL; docker-compose sets a dedicated Redis database), else Redis at
# REDIS_URL under its own key prefix, else (the embedded default) local memory.
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="compliance-cache")
if env.str("CACHE_URL", default=""):
    CACHES = {"default": env.cache("CACHE_URL")}
    CACHES["default"].setdefault("KEY_PREFIX", CACHE_KEY_PREFIX)
elif env.str("REDIS_URL", default=""):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env.str("REDIS_URL"),
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# --- end ops: cache ----------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Bilingual (issue 15): Simplified Chinese and English. The admin and cockpit follow the
# browser (LocaleMiddleware), then a staff user's remembered choice; the API's human messages
# follow Accept-Language (English by default); alerts go out in the recipient's language
# (Company.preferred_language, StaffProfile.language, WebhookSubscription.language). The
# catalogues live with their owner: <app>/locale/ and, for the project-wide ones, LOCALE_PATHS.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
# The apps (licences, quotas, compliance, cockpit) carry their own <app>/locale/; the plain
# packages' catalogues (common's decision pages and helpers, config's admin templates, the
# API's messages) are listed here, as Django finds only installed apps' by itself.
LOCALE_PATHS = [BASE_DIR / "common" / "locale", BASE_DIR / "config" / "locale", BASE_DIR / "api" / "locale"]
# Dates `23 Jan 2026` / `2026年1月23日` and the like: config/formats/<language>/formats.py.
FORMAT_MODULE_PATH = ["config.formats"]
# The language of an alert whose recipient has not chosen one (a model default: a constant,
# not an environment setting, so the migrations stay what the models say).
ALERT_DEFAULT_LANGUAGE = "zh-hans"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_BACKEND",
            default="whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}

# --- E-mail -----------------------------------------------------------------------------
# Console on the embedded default; production sets EMAIL_URL (smtp+tls://user:pass@host:587).
vars().update(env.email("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="compliance@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Regulator staff who receive every alert and the daily digest.
REGULATOR_ALERT_EMAILS = env.list("REGULATOR_ALERT_EMAILS", default=[])

# --- Celery -----------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_DIR = VAR_DIR / "celery-broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 3600}
else:
    # Filesystem transport: a real broker with no server, for the embedded default.
    for folder in ("queue", "processed", "control"):
        (CELERY_BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=15 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=14 * 60)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # ops: the API-key authentication, throttled per client address after failures.
        "api.throttling.FailedAuthLimitedApiKeyAuthentication",
        "api.authentication.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.MatrixPermission"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ApiKeyRateThrottle"],
    # Per API key (or staff user, or anonymous address).
    "DEFAULT_THROTTLE_RATES": {"api": env.str("API_THROTTLE_RATE", default="600/minute")},
    "DEFAULT_PAGINATION_CLASS": "common.api.pagination.OrderedPageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "common.api.filters.QueryFilterBackend",
        "common.api.filters.StableOrderingFilter",
    ],
    "DEFAULT_PARSER_CLASSES": ["common.api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "common.api.errors.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Chip-import compliance API",
    "DESCRIPTION": (
        "Import licences, customs, domestic-chip commitments, quota positions and US security "
        "conditions. Authenticate with `Authorization: Api-Key <key>`: a company key sees and "
        "writes only its own company's records; customs, regulator and analyst principals see "
        "every company (docs/principals.md). Errors are "
        '`{"code", "detail", "errors"}` with a stable `code`. POSTs accept an `Idempotency-Key` header. '
        "Languages: `detail` and the field messages follow `Accept-Language` (`en` by default, or `zh-hans`); "
        "`code`, field names and enum values never change."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "LicenceStatusEnum": "licences.models.ImportLicence.Status",
        "CustomsStatusEnum": "licences.models.Shipment.Status",
        "CommitmentStatusEnum": "quotas.models.DomesticCommitment.Status",
        "PolicyStatusEnum": "quotas.models.QuotaPolicy.Status",
        "AttestationStatusEnum": "compliance.models.SecurityAttestation.Status",
        "FindingStatusEnum": "compliance.models.Finding.Status",
    },
}

# --- Compliance thresholds (rules read these, never literals) ------------------------
COMPLIANCE = {
    "EXPIRY_WARNING_DAYS": env.int("COMPLIANCE_EXPIRY_WARNING_DAYS", default=30),
    "REMINDER_DAYS": [30, 7, 1],
    "LICENCE_EXHAUSTION_RATIO": env.str("COMPLIANCE_LICENCE_EXHAUSTION_RATIO", default="0.90"),
    "CUSTOMS_HOLD_MAX_DAYS": env.int("COMPLIANCE_CUSTOMS_HOLD_MAX_DAYS", default=7),
    # Jobs: how a full sweep is chunked (one task and one transaction each; compliance.chunks).
    # A chunk closes at SWEEP_CHUNK_ROWS rows (a company's shipments, licences and commitments,
    # plus 50 for the company itself) or SWEEP_CHUNK_SIZE companies, whichever comes first:
    # its memory follows the rows. Each chunk re-runs the rules, so fewer, larger chunks are
    # faster (see benchmarks/RESULTS.md). And how long a sweep lock may live.
    "SWEEP_CHUNK_ROWS": env.int("COMPLIANCE_SWEEP_CHUNK_ROWS", default=250_000),
    "SWEEP_CHUNK_SIZE": env.int("COMPLIANCE_SWEEP_CHUNK_SIZE", default=2500),
    "SWEEP_LOCK_SECONDS": env.int("COMPLIANCE_SWEEP_LOCK_SECONDS", default=50 * 60),
    # On-change re-checks coalesce: while one waits unstarted, later changes enqueue nothing.
    # Its marker lives at most this long (a lost message delays a company's re-check by
    # at most this; the hourly sweep catches up anyway).
    "RECHECK_PENDING_SECONDS": env.int("COMPLIANCE_RECHECK_PENDING_SECONDS", default=5 * 60),
    # A still-open finding's last_seen_at moves at most once per this interval: a company
    # re-checked minute after minute does not rewrite every open finding each time (the hourly
    # sweep still moves them all). last_seen_at is therefore exact to within this interval.
    "HEARTBEAT_SECONDS": env.int("COMPLIANCE_HEARTBEAT_SECONDS", default=10 * 60),
    # Webhooks: HTTP attempts per delivery (first try + retries), first retry delay (doubling,
    # capped, with jitter), failed deliveries in a row that disable a subscription, timeouts.
    "WEBHOOK_MAX_ATTEMPTS": env.int("COMPLIANCE_WEBHOOK_MAX_ATTEMPTS", default=6),
    # Subscriptions one company may hold (regulator-wide ones are not counted): 400 beyond.
    "WEBHOOK_MAX_PER_COMPANY": env.int("COMPLIANCE_WEBHOOK_MAX_PER_COMPANY", default=20),
    "WEBHOOK_RETRY_BACKOFF_SECONDS": env.int("COMPLIANCE_WEBHOOK_RETRY_BACKOFF_SECONDS", default=30),
    "WEBHOOK_RETRY_BACKOFF_MAX_SECONDS": env.int("COMPLIANCE_WEBHOOK_RETRY_BACKOFF_MAX_SECONDS", default=30 * 60),
    "WEBHOOK_DISABLE_AFTER_FAILURES": env.int("COMPLIANCE_WEBHOOK_DISABLE_AFTER_FAILURES", default=5),
    "WEBHOOK_TIMEOUT_SECONDS": env.int("COMPLIANCE_WEBHOOK_TIMEOUT_SECONDS", default=10),
    "WEBHOOK_SIGNATURE_TOLERANCE_SECONDS": env.int("COMPLIANCE_WEBHOOK_SIGNATURE_TOLERANCE_SECONDS", default=300),
    # --- Webhook receivers (outbound: compliance/webhook_targets.py) ---------------------
    # Receivers must be https URLs resolving to public addresses only. Trusted host names
    # that may resolve to private ones (comma-separated), lifting the address check for
    # every host, and plain http: all off by default, for an in-cluster relay or development.
    "WEBHOOK_ALLOWED_HOSTS": env.list("COMPLIANCE_WEBHOOK_ALLOWED_HOSTS", default=[]),
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": env.bool("COMPLIANCE_WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False),
    "WEBHOOK_ALLOW_HTTP": env.bool("COMPLIANCE_WEBHOOK_ALLOW_HTTP", default=False),
    # --- end of webhook receivers ----------------------------------------------------------
}

# --- Security (production) ----------------------------------------------------------
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
# ops: trust X-Forwarded-Proto only when a TLS-terminating proxy that sets it (and drops a
# client's own value) is the only way in: docker-compose's Caddy. Off by default.
if env.bool("TRUST_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# The health endpoint is probed over plain HTTP inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
# --- Uploads (ops) ---------------------------------------------------------------------
# An upload larger than this is streamed to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=2621440)
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("DATA_UPLOAD_MAX_NUMBER_FILES", default=5)
# One evidence file (attestations), and a whole multipart API request (413 beyond).
EVIDENCE_MAX_BYTES = env.int("EVIDENCE_MAX_BYTES", default=2 * 1024 * 1024)
API_MULTIPART_MAX_BYTES = env.int("API_MULTIPART_MAX_BYTES", default=3 * 1024 * 1024)
# --- end ops: uploads --------------------------------------------------------------------
# Bulk ingestion (POST /api/v1/shipments/batch/, /api/v1/customs-events/batch/): items per
# batch, and the JSON body cap for those two endpoints only (other writes stay at 256 KiB).
API_BATCH_MAX_ITEMS = env.int("API_BATCH_MAX_ITEMS", default=5000)
API_BATCH_MAX_BODY_BYTES = env.int("API_BATCH_MAX_BODY_BYTES", default=8 * 1024 * 1024)
# Back-entry of paper-era licences (POST /api/v1/licences/backfill/): rows per request, and the
# cap on its JSON body or uploaded file (413 beyond either; larger loads: manage.py backfill_licences).
API_BACKFILL_MAX_ROWS = env.int("API_BACKFILL_MAX_ROWS", default=2000)
API_BACKFILL_MAX_BYTES = env.int("API_BACKFILL_MAX_BYTES", default=2 * 1024 * 1024)
# Client-supplied event times (occurred_at, declared_at, pledged_on, ...) may lie at most this
# many seconds past the server's clock (a client clock a little ahead); later is refused
# with future_event_time. Dates may not be after today in TIME_ZONE.
EVENT_TIME_SKEW = env.int("EVENT_TIME_SKEW", default=300)
# A licence decision dated (effective_on) more than this many days before the day it is
# recorded is a late entry: it needs a reason and is marked as such in the ledger.
LICENCE_LATE_ENTRY_DAYS = env.int("LICENCE_LATE_ENTRY_DAYS", default=3)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- Client address, throttling and lockout (ops) ---------------------------------------
# The client's address is REMOTE_ADDR. Only when REMOTE_ADDR is one of TRUSTED_PROXIES
# (addresses or networks) is X-Forwarded-For read, right to left, skipping trusted proxies.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# Failed API-key authentications per client address and window: past the limit every
# Api-Key request from that address (a good key too) gets 429 ``too_many_failed_authentications``.
API_AUTH_FAILURE_LIMIT = env.int("API_AUTH_FAILURE_LIMIT", default=20)
API_AUTH_FAILURE_WINDOW_SECONDS = env.int("API_AUTH_FAILURE_WINDOW_SECONDS", default=60)
# Admin login lockout (django-axes, database handler): after AXES_FAILURE_LIMIT failures for
# one username from one address, that pair cannot log in (the right password neither) until
# AXES_COOLOFF_TIME hours have passed or an operator runs `manage.py axes_reset`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_TIME", default=1.0)  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "compliance.client_ip.client_ip"
AXES_LOCKOUT_TEMPLATE = "admin/lockout.html"
AXES_HTTP_RESPONSE_CODE = 429
# --- end ops: throttling and lockout ----------------------------------------------------

# --- Retention (ops): `manage.py prune` and the daily `compliance.prune` task ------------
# Days to keep each kind of record; 0 keeps it forever. A batch's stored answer is dropped
# (the row stays, so its batch_id is never re-run) after BATCH_ANSWER_DAYS, the row itself
# after BATCH_ROW_DAYS; an Idempotency-Key can be reused after IDEMPOTENCY_DAYS; webhook
# attempts, and delivered or failed deliveries, go after WEBHOOK_DAYS.
RETENTION = {
    "BATCH_ANSWER_DAYS": env.int("RETENTION_BATCH_ANSWER_DAYS", default=7),
    "BATCH_ROW_DAYS": env.int("RETENTION_BATCH_ROW_DAYS", default=90),
    "IDEMPOTENCY_DAYS": env.int("RETENTION_IDEMPOTENCY_DAYS", default=7),
    "WEBHOOK_DAYS": env.int("RETENTION_WEBHOOK_DAYS", default=90),
    "LOGIN_LOG_DAYS": env.int("RETENTION_LOGIN_LOG_DAYS", default=90),
    "CHUNK_SIZE": env.int("RETENTION_CHUNK_SIZE", default=2000),
}
# --- end ops: retention -----------------------------------------------------------------

# --- Metrics (ops) ------------------------------------------------------------------------
# /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` or a signed-in superuser;
# anyone else gets 404. Without METRICS_TOKEN only superusers see it.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# --- end ops: metrics ---------------------------------------------------------------------

# --- Content Security Policy (ops, django-csp) ----------------------------------------------
# Scripts and <style> elements only from this origin or with the per-request nonce; style
# attributes are allowed (Django's, import-export's and simple-history's admin templates use them).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'", NONCE],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# --- end ops: CSP ---------------------------------------------------------------------------
