"""Files sent with messages: checked by content, all-or-nothing, stripped of metadata, only downloaded."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from portal.audit.models import AuditEvent
from portal.messaging.forms import check_attachments
from portal.messaging.models import Attachment, Message, Thread, Topic
from portal.messaging.tests.support import (
    MessagingWorld,
    messaging_world,
    pdf_upload,
    png_upload,
    start_thread,
)
from portal.scheduling.tests.test_coverage import jpeg_with_exif
from portal.test import World, assert_same_as_missing

pytestmark = pytest.mark.django_db

MISSING = 987654321


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def clinic(world: World, media: Path) -> MessagingWorld:
    return messaging_world(world)


def signed_in(world: World, persona: str = "patient") -> Client:
    client = Client()
    if persona != "anonymous":
        client.force_login(world.persona(persona))
    return client


def compose(world: World, files: list[Any], **changes: Any) -> dict[str, Any]:
    form = {
        "topic": Topic.MEDICAL,
        "care_team": world.care_team.pk,
        "subject": "A rash on my arm",
        "body": "Here is a photo of the rash.",
        "attachments": files,
    }
    form.update(changes)
    return form


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def assert_nothing_saved(root: Path) -> None:
    assert not Thread.objects.exists()
    assert not Message.objects.exists()
    assert not Attachment.objects.exists()
    assert stored_files(root) == []


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def send(clinic: MessagingWorld, files: list[Any]) -> Any:
    return signed_in(clinic.world).post(reverse("messaging:new"), compose(clinic.world, files))


# Accepted files --------------------------------------------------------------------------------


def test_a_photo_and_a_pdf_are_stored_under_random_names(clinic: MessagingWorld, media: Path) -> None:
    response = send(clinic, [png_upload("rash.png"), pdf_upload("letter.pdf")])
    assert response.status_code == 302
    rows = list(Attachment.objects.order_by("id"))
    assert [row.content_type for row in rows] == ["image/png", "application/pdf"]
    assert [row.original_name for row in rows] == ["rash.png", "letter.pdf"]
    for row in rows:
        assert row.file.name.startswith("messaging/") and "rash" not in row.file.name
        assert (media / row.file.name).is_file()
        assert row.size == (media / row.file.name).stat().st_size
    assert len(stored_files(media)) == 2


def test_a_photo_loses_its_exif_gps_and_comment(clinic: MessagingWorld, media: Path) -> None:
    original = jpeg_with_exif()
    assert b"SpyCam" in original and b"home address" in original
    send(clinic, [upload("IMG_0001.jpg", original, "image/jpeg")])
    stored = (media / Attachment.objects.get().file.name).read_bytes()
    assert b"SpyCam" not in stored and b"home address" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG"
        assert not image.getexif()
        assert "comment" not in image.info


def test_a_reply_can_carry_files(clinic: MessagingWorld, media: Path) -> None:
    thread = start_thread(clinic.world)
    response = signed_in(clinic.world).post(
        reverse("messaging:reply", args=[thread.pk]),
        {"body": "Photo attached", "attachments": [png_upload()]},
    )
    assert response.status_code == 302
    assert Attachment.objects.get().message.body == "Photo attached"


# Refused files ---------------------------------------------------------------------------------

PDF_WITH_SCRIPT = b"%PDF-1.4\n1 0 obj<</OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj\n%%EOF\n"


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("photo.png", b"just some text pretending to be a picture", "Upload a PDF, JPEG or PNG file."),
        ("page.pdf", b"<html><script>alert(1)</script></html>", "Upload a PDF, JPEG or PNG file."),
        ("report.pdf", PDF_WITH_SCRIPT, "This PDF contains scripts or embedded files"),
        ("broken.jpg", b"\xff\xd8\xff\xe0 not really a jpeg", "Upload a PDF, JPEG or PNG file."),
        ("empty.pdf", b"", "The submitted file is empty."),
    ],
)
def test_a_file_with_the_wrong_content_is_refused_and_nothing_is_saved(
    clinic: MessagingWorld, media: Path, name: str, content: bytes, error: str
) -> None:
    response = send(clinic, [png_upload(), upload(name, content)])
    assert response.status_code == 400
    assert error in response.content.decode()
    assert "Please choose your files again." in response.content.decode()
    assert_nothing_saved(media)


def test_an_oversized_file_is_refused(clinic: MessagingWorld, media: Path, settings: Any) -> None:
    settings.PORTAL_MESSAGE_ATTACHMENT_MAX_BYTES = 200
    response = send(clinic, [png_upload(size=(300, 300))])
    assert response.status_code == 400
    assert "The file is too large." in response.content.decode()
    assert_nothing_saved(media)


def test_too_many_files_are_refused(clinic: MessagingWorld, media: Path, settings: Any) -> None:
    settings.PORTAL_MESSAGE_MAX_ATTACHMENTS = 2
    response = send(clinic, [png_upload("a.png"), png_upload("b.png"), pdf_upload()])
    assert response.status_code == 400
    assert "Attach at most 2 files." in response.content.decode()
    assert_nothing_saved(media)


def test_a_bad_file_in_a_reply_changes_nothing(clinic: MessagingWorld, media: Path) -> None:
    thread = start_thread(clinic.world)
    response = signed_in(clinic.world).post(
        reverse("messaging:reply", args=[thread.pk]),
        {"body": "See attached", "attachments": [upload("x.pdf", b"MZ\x90\x00 a program")]},
    )
    assert response.status_code == 400
    assert thread.messages.count() == 1 and not Attachment.objects.exists()
    assert stored_files(media) == []


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.png", "..\\x.pdf", "C:\\Users\\me\\scan.pdf", "..", "a\x00.png"]
)
def test_a_file_name_with_a_path_in_it_is_refused(name: str) -> None:
    # Browsers send a bare file name; Django also strips folders from what arrives over
    # HTTP. The form refuses any name that still has one, whoever built the upload.
    crafted = png_upload()
    crafted._name = name  # type: ignore[attr-defined]  # past UploadedFile's own clean-up
    with pytest.raises(Exception, match="cannot contain folder names"):
        check_attachments([crafted])


BOUNDARY = "----messaging-test-boundary"


def raw_post(client: Client, world: World, filename: str, content: bytes) -> Any:
    """A hand-made multipart body, so the path in the file name reaches the server as sent."""
    fields = {
        "topic": "medical",
        "care_team": str(world.care_team.pk),
        "subject": "Path trick",
        "body": "Hello",
    }
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="attachments"; filename="{filename}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()
    return client.post(
        reverse("messaging:new"), data=body, content_type=f"multipart/form-data; boundary={BOUNDARY}"
    )


@pytest.mark.parametrize("filename", ["../../etc/passwd.png", "..\\\\..\\\\x.pdf", "/etc/cron.d/evil.png"])
def test_a_path_in_a_file_name_never_writes_outside_the_upload_folder(
    clinic: MessagingWorld, media: Path, tmp_path: Path, filename: str
) -> None:
    client = signed_in(clinic.world)
    response = raw_post(client, clinic.world, filename, b"#!/bin/sh\nrm -rf /\n")
    assert response.status_code == 400
    assert_nothing_saved(media)
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []

    image = png_upload().read()
    response = raw_post(client, clinic.world, filename, image)
    assert response.status_code == 302
    row = Attachment.objects.get()
    assert "/" not in row.original_name and "\\" not in row.original_name and ".." not in row.original_name
    assert row.file.name.startswith("messaging/")
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert written == [media / row.file.name]


# Downloads -------------------------------------------------------------------------------------


def sent_attachment(clinic: MessagingWorld) -> Attachment:
    start_thread(clinic.world)
    thread = Thread.objects.get()
    send_reply = signed_in(clinic.world).post(
        reverse("messaging:reply", args=[thread.pk]),
        {"body": "file", "attachments": [pdf_upload("Lab letter.pdf")]},
    )
    assert send_reply.status_code == 302
    return Attachment.objects.get()


@pytest.mark.parametrize("persona", ["patient", "proxy"])
def test_the_patient_side_downloads_a_file_as_an_attachment(clinic: MessagingWorld, persona: str) -> None:
    attachment = sent_attachment(clinic)
    response = signed_in(clinic.world, persona).get(reverse("messaging:attachment", args=[attachment.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert f'filename="lab-letter-{attachment.pk}.pdf"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/pdf"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content).startswith(b"%PDF-")  # type: ignore[attr-defined]
    event = AuditEvent.objects.filter(action="messaging.attachment_download").get()
    assert event.detail == {"attachment": attachment.pk}


def test_the_conversation_links_its_files_for_download(clinic: MessagingWorld) -> None:
    attachment = sent_attachment(clinic)
    page = signed_in(clinic.world).get(reverse("messaging:thread", args=[attachment.message.thread_id]))
    text = page.content.decode()
    assert f'href="{reverse("messaging:attachment", args=[attachment.pk])}" download' in text
    assert "Lab letter.pdf" in text and "PDF document" in text


@pytest.mark.parametrize("persona", ["other_patient", "unassigned_staff", "admin", "clinician"])
def test_strangers_cannot_download(clinic: MessagingWorld, persona: str) -> None:
    attachment = sent_attachment(clinic)
    client = signed_in(clinic.world, persona)
    assert_same_as_missing(
        client.get(reverse("messaging:attachment", args=[attachment.pk])),
        client.get(reverse("messaging:attachment", args=[MISSING])),
    )


def test_anonymous_visitors_are_asked_to_sign_in(clinic: MessagingWorld) -> None:
    attachment = sent_attachment(clinic)
    response = Client().get(reverse("messaging:attachment", args=[attachment.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_a_proxy_without_the_message_scope_cannot_download(clinic: MessagingWorld) -> None:
    attachment = sent_attachment(clinic)
    clinic.world.proxy_grant.scopes = ["view"]
    clinic.world.proxy_grant.save()
    response = signed_in(clinic.world, "proxy").get(reverse("messaging:attachment", args=[attachment.pk]))
    assert response.status_code == 403 and b"%PDF" not in response.content


def test_another_patients_file_is_missing_to_the_patient(clinic: MessagingWorld) -> None:
    world = clinic.world
    theirs = Thread.objects.create(
        patient=world.bob,
        topic=Topic.BILLING,
        subject="Bob",
        pool=clinic.billing_office,
        started_by=world.bob_user,
    )
    message = Message.objects.create(thread=theirs, author=world.bob_user, body="bill")
    file = Attachment.objects.create(
        message=message, file="messaging/x/y", content_type="application/pdf", size=3
    )
    client = signed_in(world)
    assert_same_as_missing(
        client.get(reverse("messaging:attachment", args=[file.pk])),
        client.get(reverse("messaging:attachment", args=[MISSING])),
    )


def test_a_staff_file_reaches_the_patient(clinic: MessagingWorld, media: Path) -> None:
    from portal.audit.actor import Actor
    from portal.lib.uploads import check_pdf
    from portal.messaging import actions
    from portal.patients.access import pool_access

    thread = start_thread(clinic.world)
    staff = pool_access(clinic.nurse, clinic.world.alice, thread.pool)
    assert staff is not None
    checked = check_pdf(pdf_upload("instructions.pdf"), 10_000)
    actions.do_reply(Actor.system(), staff, thread, actions.Draft(body="Instructions", files=[checked]))
    attachment = Attachment.objects.get()
    response = signed_in(clinic.world).get(reverse("messaging:attachment", args=[attachment.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == checked.content  # type: ignore[attr-defined]
