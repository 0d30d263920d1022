"""Production mode, checked in a separate process because settings load once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
GOOD_KEY = "k" * 20 + "-production-secret-key-for-the-settings-test-only-0123456789"


def _oidc_key(tmp_path: Path) -> Path:
    """Production needs the ID-token signing key from outside; a fresh one for each test."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "oidc.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def _shc_key(tmp_path: Path) -> Path:
    """Production needs the health-card signing key (EC P-256) from outside too."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "shc.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "SECRET_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    environment.update(
        PORTAL_ENV="production",
        PORTAL_DATA_DIR=str(tmp_path),
        ALLOWED_HOSTS="portal.example.org",
        PORTAL_OIDC_PRIVATE_KEY_FILE=str(_oidc_key(tmp_path)),
        PORTAL_SHC_PRIVATE_KEY_FILE=str(_shc_key(tmp_path)),
        PORTAL_FIELD_KEYS="dGVzdC1vbmx5LWZpZWxkLWtleS0wMTIzNDU2Nzg5YWI=",  # Fernet, for this test only
    )
    environment.update(env)
    return subprocess.run(  # noqa: S603  (our own interpreter and manage.py)
        [sys.executable, str(ROOT / "manage.py"), *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        check=False,
    )


def test_production_refuses_to_start_without_a_real_secret_key(tmp_path: Path) -> None:
    result = _run(tmp_path, "check")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_a_short_secret_key(tmp_path: Path) -> None:
    result = _run(tmp_path, "check", SECRET_KEY="short")
    assert result.returncode != 0


def test_the_deployment_check_is_clean(tmp_path: Path) -> None:
    result = _run(tmp_path, "check", "--deploy", "--fail-level", "WARNING", SECRET_KEY=GOOD_KEY)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_cookies_are_host_prefixed_and_secure(tmp_path: Path) -> None:
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS > 0, s.DEBUG)"
    )
    result = _run(tmp_path, "shell", "--no-imports", "-c", code, SECRET_KEY=GOOD_KEY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "__Host-portal-session",
        "__Host-portal-csrf",
        "True",
        "True",
        "True",
        "False",
    ]
