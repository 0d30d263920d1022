"""Where uploads and the cache live, read from the settings of a fresh process (settings
load once per process). Nothing here contacts a storage endpoint: only the configuration
Django would use is inspected."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from portal.core.tests.test_production_settings import GOOD_KEY, _oidc_key, _shc_key

ROOT = Path(__file__).resolve().parents[3]
PRINT_CONFIG = (
    "import json; from django.conf import settings; from django.core.files.storage import storages; "
    "print(json.dumps({'default': settings.STORAGES['default'], 'cache': settings.CACHES['default'], "
    "'exempt': settings.SECURE_REDIRECT_EXEMPT, "
    # Only with credentials: without them boto3 would look for some (instance metadata).
    "'url': storages['default'].url('records/scan 1.pdf') "
    "if settings.STORAGES['default'].get('OPTIONS', {}).get('access_key') else None, "
    "'class': type(storages['default']).__module__ + '.' + type(storages['default']).__name__}))"
)
S3_VARIABLES = {
    "PORTAL_S3_BUCKET": "clinic-uploads",
    "PORTAL_S3_ENDPOINT_URL": "https://s3.storage.example.org",
    "PORTAL_S3_REGION": "eu-west-1",
    "PORTAL_S3_ACCESS_KEY_ID": "portal-access-key",
    "PORTAL_S3_PREFIX": "uploads",
    "PORTAL_S3_ADDRESSING_STYLE": "path",
}


def _settings(tmp_path: Path, **env: str) -> dict[str, object]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PORTAL_", "AWS_")) and key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}
    }
    environment.update(
        PORTAL_ENV="production",
        PORTAL_DATA_DIR=str(tmp_path),
        SECRET_KEY=GOOD_KEY,
        ALLOWED_HOSTS="portal.example.org",
        PORTAL_OIDC_PRIVATE_KEY_FILE=str(_oidc_key(tmp_path)),
        PORTAL_SHC_PRIVATE_KEY_FILE=str(_shc_key(tmp_path)),
        PORTAL_FIELD_KEYS="dGVzdC1vbmx5LWZpZWxkLWtleS0wMTIzNDU2Nzg5YWI=",  # Fernet, for this test only
        # Loopback only: boto3 must never ask the cloud's instance-metadata address.
        AWS_EC2_METADATA_DISABLED="true",
    )
    environment.update(env)
    result = subprocess.run(  # noqa: S603  (our own interpreter and manage.py)
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", PRINT_CONFIG],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_uploads_stay_on_the_file_system_without_a_bucket(tmp_path: Path) -> None:
    config = _settings(tmp_path)
    assert config["class"] == "django.core.files.storage.filesystem.FileSystemStorage"


def test_a_bucket_switches_uploads_to_private_s3_storage(tmp_path: Path) -> None:
    secret_file = tmp_path / "s3-secret"
    secret_file.write_text("portal-secret-key-from-a-file\n")
    config = _settings(tmp_path, **S3_VARIABLES, PORTAL_S3_SECRET_ACCESS_KEY_FILE=str(secret_file))

    assert config["class"] == "storages.backends.s3.S3Storage"
    options = config["default"]["OPTIONS"]  # type: ignore[index]
    assert options["bucket_name"] == "clinic-uploads"
    assert options["endpoint_url"] == "https://s3.storage.example.org"
    assert options["region_name"] == "eu-west-1"
    assert options["access_key"] == "portal-access-key"
    assert options["secret_key"] == "portal-secret-key-from-a-file"
    assert options["location"] == "uploads"
    assert options["addressing_style"] == "path"
    # Private objects, only signed URLs, and no upload replacing another file.
    assert options["default_acl"] is None
    assert options["querystring_auth"] is True
    assert options["file_overwrite"] is False
    # boto3 accepted the options: a link is signed locally (no request is sent), path-style
    # on the configured endpoint, under the prefix. The portal itself streams files instead.
    url = str(config["url"])
    assert url.startswith("https://s3.storage.example.org/clinic-uploads/uploads/records/scan%201.pdf?")
    assert "X-Amz-Signature=" in url
    assert "portal-access-key" in url


def test_without_credentials_boto3_finds_its_own(tmp_path: Path) -> None:
    config = _settings(tmp_path, PORTAL_S3_BUCKET="clinic-uploads")
    options = config["default"]["OPTIONS"]  # type: ignore[index]
    assert config["class"] == "storages.backends.s3.S3Storage"
    assert options["access_key"] is None
    assert options["secret_key"] is None
    assert options["endpoint_url"] is None


def test_production_shares_the_cache_between_app_servers(tmp_path: Path) -> None:
    # Rate limits and replay guards are kept in the cache: never per process in production.
    assert _settings(tmp_path)["cache"] == {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "portal_cache",
    }
    redis = _settings(tmp_path, REDIS_URL="redis://127.0.0.1:6379/0")["cache"]
    assert redis == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/0",
    }


def test_health_checks_and_metrics_answer_app_servers_over_plain_http(tmp_path: Path) -> None:
    # Load balancers and Prometheus call app servers directly, not through the TLS proxy.
    exempt = _settings(tmp_path)["exempt"]
    assert isinstance(exempt, list)

    def redirected(path: str) -> bool:
        return not any(re.search(pattern, path.lstrip("/")) for pattern in exempt)

    assert not redirected("/healthz")
    assert not redirected("/readyz")
    assert not redirected("/metrics")
    assert redirected("/accounts/login/")
    assert redirected("/readyz/anything")
    assert redirected("/record/metrics")
