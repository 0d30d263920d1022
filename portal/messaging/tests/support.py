"""Test helpers for messaging: a clinic with every pool, and quick ways to write messages."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.lib.uploads import CheckedFile
from portal.messaging import actions
from portal.messaging.models import Pharmacy, Thread, Topic
from portal.organization.models import CareTeam, Department, Practitioner
from portal.patients.access import PatientAccess, decide, pool_access
from portal.test import World, make_staff


@dataclass
class MessagingWorld:
    """The shared World plus a nurse in Alice's care team, the billing office and a specialty.

    Pools: `world.care_team` (carol the physician, nina the nurse), `world.scheduling_desk`
    (sam), `billing_office` (bill). Dave is staff in no pool.
    """

    world: World
    nurse: User
    billing_office: CareTeam
    billing_clerk: User
    cardiology: Department


def messaging_world(world: World) -> MessagingWorld:
    nurse = make_staff("nina", Practitioner.Role.NURSE, world.care_team)
    office = CareTeam.objects.create(slug="billing", name="Billing office", kind=CareTeam.Kind.BILLING_OFFICE)
    clerk = make_staff("bill", Practitioner.Role.BILLING, office)
    cardiology = Department.objects.create(slug="cardiology", name="Cardiology")
    cardiology.campuses.add(world.campus)
    return MessagingWorld(world, nurse, office, clerk, cardiology)


def access_for(user: User, world: World) -> PatientAccess:
    access = decide(user, world.alice)
    assert access is not None
    return access


def start_thread(
    world: World,
    user: User | None = None,
    *,
    topic: str = Topic.MEDICAL,
    subject: str = "Question about my blood pressure",
    body: str = "Should I take my tablet in the morning or the evening?",
    files: tuple[CheckedFile, ...] = (),
    **draft: Any,
) -> Thread:
    """A thread Alice (or `user` acting for her) starts with her care team."""
    access = access_for(user or world.alice_user, world)
    return actions.do_start_thread(
        Actor.system(),
        access,
        topic=topic,
        care_team=world.care_team,
        subject=subject,
        draft=actions.Draft(body=body, files=files, **draft),
    )


def staff_reply(thread: Thread, user: User, body: str = "Take it in the morning.", **kwargs: Any) -> Any:
    access = pool_access(user, thread.patient, thread.pool)
    assert access is not None, f"{user} is not in {thread.pool}"
    return actions.do_reply(Actor.system(), access, thread, actions.Draft(body=body), **kwargs)


def make_pharmacy(world: World, name: str = "Main Street Pharmacy", **fields: Any) -> Pharmacy:
    return Pharmacy.objects.create(patient=world.alice, name=name, address="1 Main Street", **fields)


def png_upload(name: str = "rash.png", size: tuple[int, int] = (40, 30)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 80, 80)).save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def pdf_upload(name: str = "letter.pdf") -> SimpleUploadedFile:
    content = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    return SimpleUploadedFile(name, content, content_type="application/pdf")
