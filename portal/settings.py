"""Settings for the portal, read from environment variables (see docs/configuration.md).

`PORTAL_ENV` picks the mode: `development` (the default, used by `make demo`), `test`, or
`production`, which refuses to start without a real secret key and turns on every
transport-security setting.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from portal.core.observability.logs import logging_config
from portal.healthcards.keys import shc_private_key
from portal.lib.env import ConfigError, env_bool, env_int, env_list, env_str
from portal.smart.keys import oidc_private_key

BASE_DIR = Path(__file__).resolve().parent.parent
PORTAL_ENV = env_str("PORTAL_ENV", "development")
if PORTAL_ENV not in {"development", "test", "production"}:
    raise ConfigError(f"PORTAL_ENV must be development, test or production, not {PORTAL_ENV!r}")
PRODUCTION = PORTAL_ENV == "production"
DATA_DIR = Path(env_str("PORTAL_DATA_DIR", str(BASE_DIR / "var")))

DEVELOPMENT_SECRET_KEY = "development-only-key-never-use-in-production"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
if PRODUCTION and (SECRET_KEY == DEVELOPMENT_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ConfigError("Production needs SECRET_KEY (or SECRET_KEY_FILE): 50 or more random characters.")

DEBUG = env_bool("DEBUG", default=PORTAL_ENV == "development")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_NAME = env_str("SITE_NAME", "Patient Online Services")
SITE_ROOT = env_str("SITE_ROOT", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "django_htmx",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "portal.accounts",
    "portal.organization",
    "portal.patients",
    "portal.audit",
    "portal.notifications",
    "portal.dashboard",
    "portal.staff",
    "portal.registration",
    "portal.proxies",
    "portal.records",
    "portal.scheduling",
    "portal.messaging",
    "portal.billing",
    "portal.telehealth",
    "oauth2_provider",
    "portal.smart",
    "portal.bulk",
    "portal.healthcards",
    "portal.fhir",
    "portal.core",
    "portal.ops",
]

MIDDLEWARE = [
    # Outermost, so the request id and the timing cover everything below.
    "portal.core.observability.middleware.observability_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.core.middleware.no_store_middleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.accounts.middleware.SessionLimitsMiddleware",
    "portal.accounts.middleware.RequireTwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.accounts.middleware.UserSessionActivityMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "portal" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "portal.core.context_processors.portal",
                "portal.patients.selection.acting_for",
                "portal.notifications.context_processors.bells",
            ],
        },
    },
]


def _database() -> dict[str, object]:
    url = env_str("DATABASE_URL")
    if url:
        config = dj_database_url.parse(url)
        if config["ENGINE"] == "django.db.backends.postgresql":
            # Keep what the URL's query string set (sslmode=require, say).
            options: dict[str, object] = dict(config.get("OPTIONS") or {})
            if env_bool("DATABASE_PREPARED_STATEMENTS", default=True):
                # Planning the pages' many-join queries costs PostgreSQL more than running
                # them (6 ms against 0.5 ms for a message thread's). Bound parameters let
                # psycopg prepare a query once it has run 5 times on a connection, and
                # PostgreSQL can then reuse its plan (docs/deployment.md). These two
                # replace the same options in the URL, if it has them.
                options.update(server_side_binding=True, prepare_threshold=5)
            if env_bool("DATABASE_POOL", default=True):
                # psycopg's pool keeps connections warm per process; Django requires
                # CONN_MAX_AGE=0 with it.
                options["pool"] = {"min_size": 1, "max_size": env_int("DATABASE_POOL_SIZE", 10)}
                config["CONN_MAX_AGE"] = 0
            else:
                config["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60)
            config["CONN_HEALTH_CHECKS"] = True
            config["OPTIONS"] = options
        return dict(config)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "portal.sqlite3",
        "OPTIONS": {
            # IMMEDIATE takes the write lock when a transaction starts, so two writers
            # wait on each other instead of failing half-way; FULL syncs every commit.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=FULL;"
                "PRAGMA busy_timeout=20000;PRAGMA foreign_keys=ON;"
            ),
        },
        "TEST": {"NAME": env_str("SQLITE_TEST_NAME") or None},
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
elif PRODUCTION:
    # Rate limits and replay guards live in the cache, so every app server must share it:
    # the database (`portal createcachetable`) when there is no Redis, never process memory.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "portal_cache"}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
if PORTAL_ENV == "test":
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Django's ModelBackend, refusing the published demo password in production.
    "portal.accounts.backends.PortalModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if PORTAL_ENV == "test":
    # Argon2id at full cost would dominate the test run; tests still use a real hasher.
    PASSWORD_HASHERS = ["portal.accounts.hashers.FastArgon2PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "portal.accounts.validators.CommonOrPublishedPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "portal.accounts.validators.MaximumLengthValidator", "OPTIONS": {"max_length": 1024}},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_ADAPTER = "portal.accounts.adapter.PortalAccountAdapter"
# Password attempts are throttled by portal/accounts/throttle.py; allauth's "login_failed"
# limit still guards two-factor codes.
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key", "forgot_username": "20/m/ip,3/h/key"}
ACCOUNT_FORMS = {
    "reset_password": "portal.accounts.forms.PortalResetPasswordForm",
    "change_password": "portal.accounts.forms.PortalChangePasswordForm",
}
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False  # a reset never skips two-factor: sign in again
ACCOUNT_EMAIL_NOTIFICATIONS = True  # tell the owner about password, email and two-factor changes
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_REAUTHENTICATION_TIMEOUT = env_int("ACCOUNT_REAUTHENTICATION_TIMEOUT", 5 * 60)
# allauth's open sign-up stays closed: patients register at /register/ with a clinic
# number and an activation code (portal/registration).
PORTAL_OPEN_SIGNUP = False
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_ADAPTER = "portal.accounts.adapter.PortalMFAAdapter"
MFA_FORMS = {
    "add_webauthn": "portal.accounts.forms.AddPasskeyForm",
    "login_webauthn": "portal.accounts.forms.PasskeyLoginForm",
    "authenticate_webauthn": "portal.accounts.forms.PasskeyAuthenticateForm",
    "reauthenticate_webauthn": "portal.accounts.forms.PasskeyReauthenticateForm",
}
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", SITE_NAME)
USERSESSIONS_TRACK_ACTIVITY = True
USERSESSIONS_ADAPTER = "portal.accounts.adapter.PortalUserSessionsAdapter"

# Sign-in and sessions (portal/accounts; docs/architecture.md "Signing in"): sessions end
# after PORTAL_IDLE_TIMEOUT_MINUTES without activity (warned PORTAL_IDLE_WARNING_SECONDS
# before) and SESSION_COOKIE_AGE after sign-in, whatever the activity. Password sign-in
# slows down after PORTAL_SIGNIN_SLOW_AFTER failures and locks at PORTAL_SIGNIN_LOCK_AFTER
# for PORTAL_SIGNIN_LOCK_MINUTES, per username and per client address.
SESSION_ENGINE = "portal.accounts.sessions"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12)
PORTAL_IDLE_TIMEOUT_MINUTES = env_int("PORTAL_IDLE_TIMEOUT_MINUTES", 15)
PORTAL_IDLE_WARNING_SECONDS = env_int("PORTAL_IDLE_WARNING_SECONDS", 60)
PORTAL_SIGNIN_SLOW_AFTER = env_int("PORTAL_SIGNIN_SLOW_AFTER", 5)
PORTAL_SIGNIN_DELAY_SECONDS = env_int("PORTAL_SIGNIN_DELAY_SECONDS", 30)
PORTAL_SIGNIN_LOCK_AFTER = env_int("PORTAL_SIGNIN_LOCK_AFTER", 20)
PORTAL_SIGNIN_LOCK_MINUTES = env_int("PORTAL_SIGNIN_LOCK_MINUTES", 30)
# The WebAuthn relying party: empty means the host the browser asked for. Set a parent
# domain (example.org) to let passkeys work across its subdomains.
PORTAL_WEBAUTHN_RP_ID = env_str("PORTAL_WEBAUTHN_RP_ID")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "portal.core.csrf.csrf_failure"
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

SILENCED_SYSTEM_CHECKS: list[str] = []
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers and Prometheus reach app servers directly over plain HTTP, without the
    # proxy's X-Forwarded-Proto: a redirect to https would fail every check and scrape.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
    if not SECURE_HSTS_PRELOAD:
        # Opting out of the preload list is a deliberate choice, not an oversight.
        SILENCED_SYSTEM_CHECKS.append("security.W021")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # The __Host- prefix makes browsers refuse the cookie unless it is Secure, has Path=/
    # and no Domain, so no sibling subdomain can plant or overwrite it.
    SESSION_COOKIE_NAME = "__Host-portal-session"
    CSRF_COOKIE_NAME = "__Host-portal-csrf"
    LANGUAGE_COOKIE_SECURE = True
    LANGUAGE_COOKIE_NAME = "__Host-portal-language"
    LANGUAGE_COOKIE_PATH = "/"
    MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = False
else:
    MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True
PORTAL_REQUIRE_MFA = env_bool("PORTAL_REQUIRE_MFA", default=PRODUCTION)

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        # Violations are logged and counted server-side (portal/core/csp_report.py).
        "report-uri": ["/csp-report/"],
    },
}

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "portal" / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "portal" / "static"]
MEDIA_ROOT = DATA_DIR / "media"
# Outside production whitenoise serves straight from the app folders, no collectstatic.
WHITENOISE_USE_FINDERS = not PRODUCTION
# Looked up per request instead of listed once per middleware chain: the tests build a new
# chain for every test client (thousands), and each listing walks every static folder.
WHITENOISE_AUTOREFRESH = DEBUG or PORTAL_ENV == "test"
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Uploaded files: MEDIA_ROOT (a volume every app server and worker mounts), or an
# S3-compatible bucket through django-storages when PORTAL_S3_BUCKET is set
# (docs/deployment.md "Shared file storage"). Files are private: no ACL, signed URLs only,
# and the portal streams them through the access policy rather than linking to the bucket.
PORTAL_S3_BUCKET = env_str("PORTAL_S3_BUCKET")
UPLOADS_STORAGE: dict[str, object] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
if PORTAL_S3_BUCKET:
    UPLOADS_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": PORTAL_S3_BUCKET,
            "endpoint_url": env_str("PORTAL_S3_ENDPOINT_URL") or None,
            "region_name": env_str("PORTAL_S3_REGION") or None,
            # Empty: boto3's own chain (instance role, AWS_* variables, ~/.aws).
            "access_key": env_str("PORTAL_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("PORTAL_S3_SECRET_ACCESS_KEY") or None,
            "location": env_str("PORTAL_S3_PREFIX"),
            "addressing_style": env_str("PORTAL_S3_ADDRESSING_STYLE") or None,
            "signature_version": "s3v4",
            "default_acl": None,
            "querystring_auth": True,
            # A name already taken gets a suffix instead of replacing another file.
            "file_overwrite": False,
        },
    }
STORAGES = {
    "default": UPLOADS_STORAGE,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    # Development keeps every email in the demo mailbox (/demo/mailbox/) instead of sending it.
    else "portal.notifications.mailbox.MailboxEmailBackend",
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "portal@localhost")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
# Seconds an SMTP call may wait: far below the outbox's 5-minute claim lease, so a stalled
# mail server fails the attempt instead of the message being sent again by another worker.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)

# Database triggers that refuse UPDATE and DELETE of audit events. Off only for the
# test run, whose table flushes between tests they would block.
AUDIT_DATABASE_TRIGGERS = env_bool("AUDIT_DATABASE_TRIGGERS", default=PORTAL_ENV != "test")
# How long a staff member's break-glass access to a patient lasts.
BREAK_GLASS_MINUTES = env_int("BREAK_GLASS_MINUTES", 60 * 4)
# Self-registration (portal/registration) and the security check on public forms
# (portal/lib/challenge.py).
PORTAL_MIN_REGISTRATION_AGE = env_int("PORTAL_MIN_REGISTRATION_AGE", 13)
PORTAL_ACTIVATION_CODE_DAYS = env_int("PORTAL_ACTIVATION_CODE_DAYS", 30)
PORTAL_REGISTRATION_ATTEMPTS_PER_ADDRESS = env_int("PORTAL_REGISTRATION_ATTEMPTS_PER_ADDRESS", 10)  # an hour
PORTAL_REGISTRATION_ATTEMPTS_PER_PATIENT = env_int("PORTAL_REGISTRATION_ATTEMPTS_PER_PATIENT", 5)  # a day
# Proof-of-work zero bits: 15 takes a desktop browser well under a second.
PORTAL_CHALLENGE_DIFFICULTY = env_int("PORTAL_CHALLENGE_DIFFICULTY", 4 if PORTAL_ENV == "test" else 15)
PORTAL_CHALLENGE_MAX_AGE = env_int("PORTAL_CHALLENGE_MAX_AGE", 60 * 60)  # seconds
# Proxy access (portal/proxies, the policy in portal/patients/access.py): what a proxy
# of a 12-17-year-old may not see, the ages that change proxy access, the largest proof
# document accepted, and how long an emailed proxy invitation stays usable.
PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES = frozenset(
    category.lower()
    for category in env_list(
        "PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES",
        "sexual-health,reproductive-health,mental-health,substance-use",
    )
)
PORTAL_PROXY_CONFIDENTIAL_FROM_AGE = env_int("PORTAL_PROXY_CONFIDENTIAL_FROM_AGE", 12)
PORTAL_AGE_OF_MAJORITY = env_int("PORTAL_AGE_OF_MAJORITY", 18)
PORTAL_PROXY_DOCUMENT_MAX_BYTES = env_int("PORTAL_PROXY_DOCUMENT_MAX_BYTES", 10 * 1024 * 1024)
PORTAL_PROXY_INVITATION_DAYS = env_int("PORTAL_PROXY_INVITATION_DAYS", 14)
# The longest a clinic's hold rule may keep a new result from the patient for clinician
# review (records.ReleaseHoldRule). Information-blocking rules (21st Century Cures Act)
# expect results to be released at once; a hold is a narrow exception, so it is capped.
PORTAL_RESULT_HOLD_MAX_HOURS = env_int("PORTAL_RESULT_HOLD_MAX_HOURS", 72)
# Imports (portal/fhir, docs/importing.md): the identifier system of the clinic number in
# FHIR resources, and the largest file the interface-engine endpoint accepts.
PORTAL_CLINIC_NUMBER_SYSTEM = env_str("PORTAL_CLINIC_NUMBER_SYSTEM", "urn:portal:clinic-number")
PORTAL_IMPORT_MAX_BYTES = env_int("PORTAL_IMPORT_MAX_BYTES", 20 * 1024 * 1024)
# Appointments (portal/scheduling, docs/appointments.md).
# Patients may not cancel or reschedule online within this many hours of the visit;
# they are shown the campus desk's phone number instead.
PORTAL_SELF_SERVICE_CUTOFF_HOURS = env_int("PORTAL_SELF_SERVICE_CUTOFF_HOURS", 24)
# The soonest a patient may book online, so the clinic can prepare.
PORTAL_BOOKING_LEAD_MINUTES = env_int("PORTAL_BOOKING_LEAD_MINUTES", 120)
# How far ahead slots exist (generated from schedule templates), and how far patients search.
PORTAL_SLOT_HORIZON_DAYS = env_int("PORTAL_SLOT_HORIZON_DAYS", 120)
PORTAL_SLOT_SEARCH_DAYS = env_int("PORTAL_SLOT_SEARCH_DAYS", 90)
# Earlier-slot offers: how many waiting patients each freed slot is offered to at once,
# and how long they have to accept it.
PORTAL_WAITLIST_OFFER_BATCH = env_int("PORTAL_WAITLIST_OFFER_BATCH", 3)
PORTAL_WAITLIST_OFFER_MINUTES = env_int("PORTAL_WAITLIST_OFFER_MINUTES", 120)
# How long a desk's offer of times for a request stays open.
PORTAL_REQUEST_OFFER_DAYS = env_int("PORTAL_REQUEST_OFFER_DAYS", 3)
# Pre-check-in opens this many days before the visit.
PORTAL_PRECHECKIN_DAYS = env_int("PORTAL_PRECHECKIN_DAYS", 7)
# Reminders go out this many hours before each visit.
PORTAL_REMINDER_HOURS = tuple(int(hours) for hours in env_list("PORTAL_REMINDER_HOURS", "168,24"))
PORTAL_INSURANCE_CARD_MAX_BYTES = env_int("PORTAL_INSURANCE_CARD_MAX_BYTES", 10 * 1024 * 1024)
# Messaging: attachments (PDF, JPEG, PNG) per file and per message; the response-time
# target of each topic in hours ("medical=48,appointment=24"; the rest keep these).
PORTAL_MESSAGE_ATTACHMENT_MAX_BYTES = env_int("PORTAL_MESSAGE_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
PORTAL_MESSAGE_MAX_ATTACHMENTS = env_int("PORTAL_MESSAGE_MAX_ATTACHMENTS", 5)
PORTAL_MESSAGE_RESPONSE_HOURS = {
    "medical": 48,
    "result": 48,
    "prescription": 48,
    "referral": 72,
    "appointment": 24,
    "billing": 72,
    "other": 72,
} | {
    topic.strip(): int(hours)
    for topic, _sep, hours in (item.partition("=") for item in env_list("PORTAL_MESSAGE_RESPONSE_HOURS"))
    if hours.strip().isdigit()
}
PORTAL_EMERGENCY_NUMBER = env_str("PORTAL_EMERGENCY_NUMBER", "911")
# How long an approved referral stays valid for booking.
PORTAL_REFERRAL_VALID_DAYS = env_int("PORTAL_REFERRAL_VALID_DAYS", 180)
# Text messages: "local" keeps them in the demo mailbox; "twilio" sends them (TWILIO_*).
# Empty (the production default) sends none: texts wait with "no SMS provider".
PORTAL_SMS_PROVIDER = env_str("PORTAL_SMS_PROVIDER", "" if PRODUCTION else "local")
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER")
# The demo-only page listing locally delivered emails and texts; never in production.
PORTAL_DEMO_MAILBOX = env_bool("PORTAL_DEMO_MAILBOX", default=not PRODUCTION)
if PRODUCTION and PORTAL_DEMO_MAILBOX:
    raise ConfigError("PORTAL_DEMO_MAILBOX shows every email sent; it cannot be on in production")

# Billing. The card processor: "sandbox" (the local test processor, never in production)
# or "stripe" (STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY).
PORTAL_PAYMENT_GATEWAY = env_str("PORTAL_PAYMENT_GATEWAY", "" if PRODUCTION else "sandbox")
if PRODUCTION and PORTAL_PAYMENT_GATEWAY == "sandbox":
    raise ConfigError("the sandbox payment gateway takes no real money; it cannot be used in production")
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY")
if PORTAL_PAYMENT_GATEWAY == "stripe" and not (STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY):
    raise ConfigError("PORTAL_PAYMENT_GATEWAY=stripe needs STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY")
if PORTAL_PAYMENT_GATEWAY not in ("", "sandbox", "stripe"):
    raise ConfigError("PORTAL_PAYMENT_GATEWAY must be sandbox or stripe")
# How long the sandbox's "fails after a delay" test card waits before failing.
PORTAL_SANDBOX_FAIL_DELAY_SECONDS = float(
    env_str("PORTAL_SANDBOX_FAIL_DELAY_SECONDS", "0.2" if PORTAL_ENV == "test" else "3")
)
# Days between a statement and its due date.
PORTAL_STATEMENT_DUE_DAYS = env_int("PORTAL_STATEMENT_DUE_DAYS", 30)
# Payment plans: the smallest balance a plan may cover, the smallest monthly instalment,
# the most months, and how many days before each instalment its notice goes out.
PORTAL_PLAN_MIN_BALANCE_CENTS = env_int("PORTAL_PLAN_MIN_BALANCE_CENTS", 100_00)
PORTAL_PLAN_MIN_INSTALMENT_CENTS = env_int("PORTAL_PLAN_MIN_INSTALMENT_CENTS", 25_00)
PORTAL_PLAN_MAX_MONTHS = env_int("PORTAL_PLAN_MAX_MONTHS", 12)
PORTAL_PLAN_NOTICE_DAYS = env_int("PORTAL_PLAN_NOTICE_DAYS", 3)
# A bill this much above its Good Faith Estimate may be disputed (No Surprises Act: $400).
PORTAL_GFE_DISPUTE_THRESHOLD_CENTS = env_int("PORTAL_GFE_DISPUTE_THRESHOLD_CENTS", 400_00)
# How the clinic takes payment by bank transfer and by post, shown on the pay page.
PORTAL_PAYEE_NAME = env_str("PORTAL_PAYEE_NAME", "Clinic Patient Accounts")
PORTAL_WIRE_BANK = env_str("PORTAL_WIRE_BANK", "First Example Bank, 100 Main Street, Rochester, MN 55901")
PORTAL_WIRE_ROUTING = env_str("PORTAL_WIRE_ROUTING", "091000019")
PORTAL_WIRE_ACCOUNT = env_str("PORTAL_WIRE_ACCOUNT", "000123456789")
PORTAL_WIRE_SWIFT = env_str("PORTAL_WIRE_SWIFT", "FEXBUS44")
PORTAL_CHECK_ADDRESS = env_str(
    "PORTAL_CHECK_ADDRESS", "Clinic Patient Accounts, PO Box 1000, Rochester, MN 55903-1000"
)
PORTAL_BILLING_PHONE = env_str("PORTAL_BILLING_PHONE", "+1 507-555-0199")

# Video visits. Media goes browser to browser; the portal carries only the signaling.
# ICE servers help browsers behind NAT find each other: "none" (host addresses only: the
# same network, the demo and the tests), "static" (PORTAL_VIDEO_STUN_URLS, and
# PORTAL_VIDEO_TURN_URLS with PORTAL_VIDEO_TURN_USERNAME/PASSWORD) or "coturn" (TURN
# with time-limited credentials from coturn's shared secret, PORTAL_VIDEO_TURN_SECRET).
PORTAL_VIDEO_ICE_PROVIDER = env_str("PORTAL_VIDEO_ICE_PROVIDER", "none")
PORTAL_VIDEO_STUN_URLS = env_list("PORTAL_VIDEO_STUN_URLS")
PORTAL_VIDEO_TURN_URLS = env_list("PORTAL_VIDEO_TURN_URLS")
PORTAL_VIDEO_TURN_USERNAME = env_str("PORTAL_VIDEO_TURN_USERNAME")
PORTAL_VIDEO_TURN_PASSWORD = env_str("PORTAL_VIDEO_TURN_PASSWORD")
PORTAL_VIDEO_TURN_SECRET = env_str("PORTAL_VIDEO_TURN_SECRET")
PORTAL_VIDEO_TURN_TTL_SECONDS = env_int("PORTAL_VIDEO_TURN_TTL_SECONDS", 4 * 3600)
if PORTAL_VIDEO_ICE_PROVIDER not in ("none", "static", "coturn"):
    raise ConfigError("PORTAL_VIDEO_ICE_PROVIDER must be none, static or coturn")
if PORTAL_VIDEO_ICE_PROVIDER == "coturn" and not (PORTAL_VIDEO_TURN_URLS and PORTAL_VIDEO_TURN_SECRET):
    raise ConfigError(
        "PORTAL_VIDEO_ICE_PROVIDER=coturn needs PORTAL_VIDEO_TURN_URLS and PORTAL_VIDEO_TURN_SECRET"
    )
# Tests only: the signaling passes only 127.0.0.1 ICE candidates, so no packet of a test
# call leaves the machine. Never in production, where it would stop every real call.
PORTAL_VIDEO_LOOPBACK_ONLY = env_bool("PORTAL_VIDEO_LOOPBACK_ONLY", default=PORTAL_ENV == "test")
if PRODUCTION and PORTAL_VIDEO_LOOPBACK_ONLY:
    raise ConfigError("PORTAL_VIDEO_LOOPBACK_ONLY is for tests; it cannot be on in production")
# A video visit opens this many minutes before it starts and closes this many after it ends.
PORTAL_VIDEO_OPENS_MINUTES_BEFORE = env_int("PORTAL_VIDEO_OPENS_MINUTES_BEFORE", 15)
PORTAL_VIDEO_CLOSES_MINUTES_AFTER = env_int("PORTAL_VIDEO_CLOSES_MINUTES_AFTER", 60)
# How often a video visit's page asks the portal for signaling and chat.
PORTAL_VIDEO_POLL_MS = env_int("PORTAL_VIDEO_POLL_MS", 1000)

# SMART App Launch: django-oauth-toolkit is the authorization server for the FHIR API.
# Apps must use PKCE (S256); refresh tokens rotate, and a reused one revokes the family.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"  # noqa: S105  (a model name)
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"  # noqa: S105  (a model name)
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"  # noqa: S105  (a model name)
# The issuer of ID tokens, also published in /.well-known/smart-configuration.
PORTAL_OAUTH_ISSUER = env_str("PORTAL_OAUTH_ISSUER", SITE_ROOT.rstrip("/") + "/oauth")
OAUTH2_PROVIDER = {
    "PKCE_REQUIRED": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if PRODUCTION else ["https", "http"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("PORTAL_API_TOKEN_SECONDS", 3600),
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # No grace period: it would need the old token in plaintext (oauth2_provider.E001).
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    # A refresh token (only with offline_access) dies this long after its last access token.
    "REFRESH_TOKEN_EXPIRE_SECONDS": env_int("PORTAL_API_REFRESH_DAYS", 90) * 86400,
    # "plain" PKCE is refused; only S256 (the consent view refuses it first, with a clear error).
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    # Tokens only in the Authorization header, and the issuer in the authorization response.
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    # Only a SHA-256 checksum of each access and refresh token is stored (the token column
    # stays blank), so a copy of the database holds nothing an attacker could present.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    # The consent screen asks every time; nothing is approved silently.
    "REQUEST_APPROVAL_PROMPT": "force",
    "OAUTH2_VALIDATOR_CLASS": "portal.smart.validator.SmartValidator",
    "SCOPES_BACKEND_CLASS": "portal.smart.validator.SmartScopes",
    "SCOPES": {},
    "DEFAULT_SCOPES": [],
    # OpenID Connect: ID tokens carry fhirUser (signed RS256 with this key).
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": PORTAL_OAUTH_ISSUER,
    "OIDC_RSA_PRIVATE_KEY": oidc_private_key(
        env_str("PORTAL_OIDC_PRIVATE_KEY"), DATA_DIR, production=PRODUCTION
    ),
    "ID_TOKEN_EXPIRE_SECONDS": 3600,
}
# SMART Health Cards: the P-256 key that signs them (its public half is served at
# /.well-known/jwks.json), the issuer URL cards carry (verifiers fetch the key from
# <issuer>/.well-known/jwks.json, so it must be this site's public https address), and
# how far back the lab results card looks.
PORTAL_SHC_PRIVATE_KEY = shc_private_key(env_str("PORTAL_SHC_PRIVATE_KEY"), DATA_DIR, production=PRODUCTION)
PORTAL_SHC_ISSUER = env_str("PORTAL_SHC_ISSUER", SITE_ROOT).rstrip("/")
PORTAL_SHC_LAB_MONTHS = env_int("PORTAL_SHC_LAB_MONTHS", 12)
# Rows a FHIR search page holds by default and at most (`_count`).
PORTAL_FHIR_PAGE_SIZE = env_int("PORTAL_FHIR_PAGE_SIZE", 50)
PORTAL_FHIR_MAX_PAGE_SIZE = env_int("PORTAL_FHIR_MAX_PAGE_SIZE", 200)
# Bulk data $export: where the NDJSON files are written (shared by the worker and every
# app server), how long a finished export's files are kept, resources per file, and how
# many exports one backend service may have queued or running at once.
PORTAL_BULK_EXPORT_DIR = Path(env_str("PORTAL_BULK_EXPORT_DIR", str(DATA_DIR / "exports")))
PORTAL_BULK_EXPORT_HOURS = env_int("PORTAL_BULK_EXPORT_HOURS", 24)
PORTAL_BULK_EXPORT_FILE_RESOURCES = env_int("PORTAL_BULK_EXPORT_FILE_RESOURCES", 100_000)
PORTAL_BULK_EXPORT_MAX_JOBS = env_int("PORTAL_BULK_EXPORT_MAX_JOBS", 3)
# Processes the worker splits one export's patients between (one core each).
PORTAL_BULK_EXPORT_PROCESSES = env_int("PORTAL_BULK_EXPORT_PROCESSES", 1)
# How long a backend service's system access token lasts (SMART Backend Services).
PORTAL_BULK_TOKEN_SECONDS = env_int("PORTAL_BULK_TOKEN_SECONDS", 300)

# Demo sign-ins are created only by `portal demo`, never in production.
DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105
# The demo's tour of its sign-ins on the sign-in page. `portal demo` turns it on for the
# server it starts; it publishes the demo password, so production refuses it.
PORTAL_DEMO = env_bool("PORTAL_DEMO", default=False)
if PRODUCTION and PORTAL_DEMO:
    raise ConfigError("PORTAL_DEMO shows the demo sign-ins and their password; it cannot be on in production")

# Observability (portal/core/observability, docs/observability.md): logs to stderr, JSON
# lines in production, each with its request id, secrets masked; Prometheus metrics at
# /metrics for the listed networks or the bearer token (else a 404); the worker's
# heartbeat, which /readyz requires to be younger than three beats.
PORTAL_LOG_FORMAT = env_str("PORTAL_LOG_FORMAT", "json" if PRODUCTION else "text")
if PORTAL_LOG_FORMAT not in ("json", "text"):
    raise ConfigError("PORTAL_LOG_FORMAT must be json or text")
LOGGING = logging_config(json=PORTAL_LOG_FORMAT == "json", level=env_str("LOG_LEVEL", "INFO").upper())
PORTAL_METRICS_ALLOWED_IPS = env_list("PORTAL_METRICS_ALLOWED_IPS", "127.0.0.1,::1")
for _network in PORTAL_METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as _error:
        raise ConfigError(f"PORTAL_METRICS_ALLOWED_IPS: {_network!r} is not a network") from _error
PORTAL_METRICS_TOKEN = env_str("PORTAL_METRICS_TOKEN")
if PORTAL_METRICS_TOKEN and len(PORTAL_METRICS_TOKEN) < 32:
    raise ConfigError("PORTAL_METRICS_TOKEN must be 32 or more random characters")
PORTAL_WORKER_HEARTBEAT_SECONDS = env_int("PORTAL_WORKER_HEARTBEAT_SECONDS", 15)
if PORTAL_WORKER_HEARTBEAT_SECONDS < 1:
    raise ConfigError("PORTAL_WORKER_HEARTBEAT_SECONDS must be at least 1")
# The test run has no worker (tasks run inline), so there /readyz checks only the database.
PORTAL_READYZ_REQUIRES_WORKER = env_bool("PORTAL_READYZ_REQUIRES_WORKER", default=PORTAL_ENV != "test")
