"""Insurance member numbers and card photos are encrypted at rest, and the keys rotate."""

from __future__ import annotations

import os
import stat
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from portal.core.tests.test_production_settings import GOOD_KEY, _run
from portal.lib.crypto import DecryptionError, decrypt_text, encrypt_text, key_ring
from portal.lib.crypto.keys import KEY_FILE_NAME, key_id, load_key_ring
from portal.lib.env import ConfigError
from portal.patients.models import Coverage, Patient
from portal.proxies.models import ProxyDocument
from portal.test import World

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
MEMBER_ID = "XY123456789"
GROUP = "GRP-4455"
CARD = b"\x89PNG\r\n\x1a\n card photo bytes: MEMBER XY123456789"


@pytest.fixture(autouse=True)
def _media_and_key_a(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PORTAL_FIELD_KEYS = [KEY_A]


def make_coverage(patient: Patient, **fields: Any) -> Coverage:
    coverage = Coverage(
        patient=patient,
        priority=Coverage.Priority.PRIMARY,
        payer_name="Acme Health",
        member_id=fields.pop("member_id", MEMBER_ID),
        group_number=fields.pop("group_number", GROUP),
        subscriber_name="Alice Able",
    )
    coverage.card_front.save("front", ContentFile(CARD), save=False)
    coverage.save()
    return coverage


def raw_columns(coverage: Coverage) -> tuple[str, str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT member_id, group_number, card_front FROM patients_coverage WHERE id = %s", [coverage.pk]
        )
        row = cursor.fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def raw_file(name: str) -> bytes:
    with storages["default"].open(name, "rb") as stream:
        return stream.read()


def test_the_database_holds_no_plaintext_and_values_round_trip(world: World) -> None:
    coverage = make_coverage(world.alice)

    member, group, _card_name = raw_columns(coverage)
    assert member.startswith(f"fe1:{key_id(KEY_A.encode())}:")
    assert MEMBER_ID not in member and MEMBER_ID[-4:] not in member
    assert group.startswith("fe1:") and GROUP not in group
    reloaded = Coverage.objects.get(pk=coverage.pk)
    assert (reloaded.member_id, reloaded.group_number) == (MEMBER_ID, GROUP)
    assert reloaded.masked_member_id == "••••6789"
    assert Coverage.objects.values_list("member_id", flat=True).get(pk=coverage.pk) == MEMBER_ID


def test_each_save_encrypts_afresh_and_blank_stays_blank(world: World) -> None:
    first = make_coverage(world.alice, group_number="")
    second = make_coverage(world.alice, group_number="")

    assert raw_columns(first)[0] != raw_columns(second)[0]
    assert raw_columns(first)[1] == ""
    assert Coverage.objects.get(pk=first.pk).group_number == ""


def test_typed_text_that_looks_like_ciphertext_is_kept_as_typed(world: World) -> None:
    lookalike = "fe1:00000000:abc"
    coverage = make_coverage(world.alice, member_id=lookalike)
    coverage.full_clean()

    assert Coverage.objects.get(pk=coverage.pk).member_id == lookalike


def test_the_card_photo_is_encrypted_in_storage_and_opens_plain(world: World) -> None:
    coverage = make_coverage(world.alice)

    stored = raw_file(raw_columns(coverage)[2])
    assert stored.startswith(b"fe1:") and b"XY123456789" not in stored and b"PNG" not in stored
    with Coverage.objects.get(pk=coverage.pk).card_front.open("rb") as stream:
        assert stream.read() == CARD


def test_a_proxy_document_is_encrypted_in_storage_and_opens_plain(world: World) -> None:
    document = ProxyDocument(patient=world.alice, content_type=ProxyDocument.ContentType.PDF, size=len(CARD))
    document.file.save("upload", ContentFile(CARD), save=True)

    assert raw_file(document.file.name).startswith(b"fe1:")
    with ProxyDocument.objects.get(pk=document.pk).file.open("rb") as stream:
        assert stream.read() == CARD


def test_searching_an_encrypted_field_is_refused_rather_than_matching_nothing(world: World) -> None:
    make_coverage(world.alice)

    with pytest.raises(FieldError):
        Coverage.objects.filter(member_id=MEMBER_ID).exists()
    with pytest.raises(FieldError):
        Coverage.objects.filter(group_number__startswith="GRP").exists()
    assert Coverage.objects.filter(member_id__isnull=False).count() == 1


def test_a_value_under_an_unconfigured_key_fails_clearly(world: World, settings: Any) -> None:
    coverage = make_coverage(world.alice)

    settings.PORTAL_FIELD_KEYS = [KEY_B]
    with pytest.raises(
        DecryptionError, match=f"key {key_id(KEY_A.encode())}, which is not in PORTAL_FIELD_KEYS"
    ):
        Coverage.objects.get(pk=coverage.pk)


def test_a_tampered_value_fails_its_integrity_check(settings: Any) -> None:
    stored = encrypt_text("secret")
    tampered = stored[:-6] + ("AAAAAA" if not stored.endswith("AAAAAA") else "BBBBBB")

    with pytest.raises(DecryptionError, match="integrity"):
        decrypt_text(tampered)
    with pytest.raises(DecryptionError, match="not in the field-encryption format"):
        decrypt_text("XY123456789")


def test_rotation_re_encrypts_everything_with_the_newest_key(world: World, settings: Any) -> None:
    coverages = [make_coverage(world.alice, member_id=f"M{number:08d}") for number in range(5)]
    coverages.append(make_coverage(world.bob, group_number=""))

    settings.PORTAL_FIELD_KEYS = [KEY_B, KEY_A]
    new_value = make_coverage(world.bob, member_id="NEW0000001")
    out = StringIO()
    call_command("rotate_field_keys", "--batch-size", "2", stdout=out)

    assert (
        "patients.Coverage: 13 values checked, 11 re-encrypted, 2 already on the newest key."
        in out.getvalue()
    )
    assert (
        "patients.Coverage: 7 files checked, 6 re-encrypted, 1 already on the newest key." in out.getvalue()
    )
    again = StringIO()
    call_command("rotate_field_keys", stdout=again)
    assert "13 values checked, 0 re-encrypted" in again.getvalue()
    assert "7 files checked, 0 re-encrypted" in again.getvalue()

    settings.PORTAL_FIELD_KEYS = [KEY_B]
    for coverage in [*coverages, new_value]:
        member, _group, _card_name = raw_columns(coverage)
        assert member.startswith(f"fe1:{key_id(KEY_B.encode())}:")
        reloaded = Coverage.objects.get(pk=coverage.pk)
        assert reloaded.member_id == coverage.member_id
        with reloaded.card_front.open("rb") as stream:
            assert stream.read() == CARD
    # The replaced files were deleted: only the re-encrypted ones remain.
    assert len(storages["default"].listdir("insurance-cards")[1]) == 7


def test_rotation_stops_clearly_when_an_old_key_is_missing(world: World, settings: Any) -> None:
    make_coverage(world.alice)

    settings.PORTAL_FIELD_KEYS = [KEY_B]
    with pytest.raises(CommandError, match="not in PORTAL_FIELD_KEYS"):
        call_command("rotate_field_keys", stdout=StringIO())


def test_new_key_prints_a_usable_key() -> None:
    out = StringIO()
    call_command("rotate_field_keys", "--new-key", stdout=out)

    Fernet(out.getvalue().strip().encode())


def test_production_requires_the_keys_and_elsewhere_one_is_generated_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Production needs PORTAL_FIELD_KEYS"):
        load_key_ring("", tmp_path, production=True)
    with pytest.raises(ConfigError, match="key 2 is not a Fernet key"):
        load_key_ring(f"{KEY_A}, not-a-key", tmp_path, production=True)

    first = load_key_ring("", tmp_path, production=False)
    assert load_key_ring("", tmp_path, production=False) == first
    assert stat.S_IMODE(os.stat(tmp_path / KEY_FILE_NAME).st_mode) == 0o600
    ring = load_key_ring(f"{KEY_B}\n{KEY_A}", tmp_path, production=True)
    assert ring.current_id == key_id(KEY_B.encode()) and len(ring.keys) == 2


def test_production_refuses_to_start_without_the_keys(tmp_path: Path) -> None:
    result = _run(tmp_path, "check", SECRET_KEY=GOOD_KEY, PORTAL_FIELD_KEYS="")

    assert result.returncode != 0
    assert "Production needs PORTAL_FIELD_KEYS" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_the_migrations_encrypt_existing_rows_and_files_and_reverse(settings: Any) -> None:
    executor = MigrationExecutor(connection)
    before = [("patients", "0004_communicationpreference_email_kinds_and_more")]
    after = [("patients", "0006_encrypt_insurance_card_files")]
    executor.migrate(before)
    storages["default"].save("insurance-cards/plain", ContentFile(CARD))
    world_patient = _raw_patient()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO patients_coverage (patient_id, priority, payer_name, plan_name, member_id, group_number,"
            " subscriber_name, subscriber_relationship, card_front, card_back, card_front_type, card_back_type,"
            " status, created_at, updated_at) VALUES (%s, 'primary', 'Acme', '', %s, '', 'A', 'self',"
            " 'insurance-cards/plain', '', 'image/png', '', 'pending', %s, %s)",
            [world_patient, MEMBER_ID, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"],
        )
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        with connection.cursor() as cursor:
            cursor.execute("SELECT member_id, group_number, card_front FROM patients_coverage")
            member, group, card_name = cursor.fetchone()
        assert member.startswith("fe1:") and group == ""
        assert raw_file(card_name).startswith(b"fe1:")
        assert not storages["default"].exists("insurance-cards/plain")
        assert key_ring().decrypt(member.encode()) == MEMBER_ID.encode()

        executor = MigrationExecutor(connection)
        executor.migrate(before)
        with connection.cursor() as cursor:
            cursor.execute("SELECT member_id, card_front FROM patients_coverage")
            member, card_name = cursor.fetchone()
        assert member == MEMBER_ID
        assert raw_file(card_name) == CARD
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def _raw_patient() -> int:
    from portal.test import make_world

    return make_world().alice.pk
