"""DocumentReference <-> ClinicalNote (text/plain content) or Document (a PDF or image file).

Only content carried in the resource (`attachment.data`) is imported: the portal never
fetches a URL a file names.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
from typing import Any

from django.utils import timezone

from portal.fhir import codes
from portal.fhir.mapping.common import (
    Context,
    clean,
    display_of,
    meta,
    moment_text,
    name_of,
    sensitivity_of,
)
from portal.fhir.mapping.medications import removal
from portal.fhir.mapping.outbound import Out, identifiers, resource_id
from portal.fhir.mapping.results import decoded_text, party_name
from portal.fhir.staging import Row
from portal.records.models import ClinicalNote, Document

logger = logging.getLogger(__name__)

# Content type -> how the file must start.
FILE_TYPES = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}
NOTE_STATUS = {"current": "current", "superseded": "current", "entered-in-error": "entered-in-error"}


def document_reference_in(resource: Any, ctx: Context, source_id: str) -> Row | None:
    number = ctx.patient(resource.subject, "subject")
    attachment = resource.content[0].attachment if resource.content else None
    content_type = str(getattr(attachment, "contentType", None) or "").split(";")[0].strip().lower()
    if attachment is None or attachment.data is None:
        ctx.problem("content[0].attachment.data", "must carry the document itself (links are not fetched)")
        return None
    if content_type == "text/plain":
        return _note(resource, attachment, ctx, number, source_id)
    if content_type in FILE_TYPES:
        return _document(resource, attachment, content_type, ctx, number, source_id)
    allowed = ", ".join(["text/plain", *FILE_TYPES])
    ctx.problem(
        "content[0].attachment.contentType", f"'{content_type}' is not supported (expected {allowed})"
    )
    return None


def _kind(
    resource: Any, portal_system: str, by_loinc: dict[str, str], choices: list[str], default: str
) -> str:
    for concept_ in [resource.type, *(resource.category or [])]:
        for coding in getattr(concept_, "coding", None) or []:
            if coding.system == portal_system and coding.code in choices:
                return str(coding.code)
    for coding in getattr(resource.type, "coding", None) or []:
        if coding.system == codes.LOINC and coding.code in by_loinc:
            return by_loinc[str(coding.code)]
    return default


def _author(resource: Any, ctx: Context) -> str:
    author = (resource.author or [None])[0]
    return ctx.text(display_of(author) or party_name(ctx.lookup(author)), "author", 200)


def _encounter(resource: Any, ctx: Context) -> dict[str, str]:
    encounters = resource.context.encounter if resource.context is not None else None
    return {"encounter": ctx.source_of(encounters[0])} if encounters else {}


def _when(resource: Any) -> Any:
    period = resource.context.period if resource.context is not None else None
    return resource.date or (period.start if period is not None else None)


def _note(resource: Any, attachment: Any, ctx: Context, number: str | None, source_id: str) -> Row | None:
    status = ctx.status(resource.status, NOTE_STATUS, "status")
    if status == "current" and resource.docStatus == "amended":
        status = "amended"
    title = attachment.title or resource.description or name_of(resource.type) or "Clinical note"
    fields: dict[str, Any] = {
        "sensitivity": _sensitivity(resource),
        "kind": _kind(
            resource,
            codes.PORTAL_NOTE_KIND,
            codes.NOTE_KIND_BY_LOINC,
            list(ClinicalNote.Kind.values),
            ClinicalNote.Kind.VISIT_NOTE,
        ),
        "title": ctx.text(title, "content[0].attachment.title", 200),
        "status": status,
        "written_at": ctx.moment(_when(resource), "date"),
        "author_name": _author(resource, ctx),
        "body": decoded_text(attachment.data, ctx, "content[0].attachment.data"),
    }
    if not fields["body"]:
        ctx.problem("content[0].attachment.data", "the note has no text")
    if number is None or status is None or fields["written_at"] is None or not fields["body"]:
        return None
    return Row(ClinicalNote, number, source_id, fields, where=ctx.where, links=_encounter(resource, ctx))


def _sensitivity(resource: Any) -> str:
    # A DocumentReference may carry its labels in securityLabel as well as meta.security.
    labels = [(str(label.system or ""), str(label.code or "")) for label in resource.securityLabel or []]
    return sensitivity_of(resource) or codes.sensitivity_from_labels(labels)


def _document(
    resource: Any, attachment: Any, content_type: str, ctx: Context, number: str | None, source_id: str
) -> Row | None:
    if resource.status == "entered-in-error":
        return removal(Document, number, source_id, ctx)
    content = bytes(attachment.data)
    if not content.startswith(FILE_TYPES[content_type]):
        ctx.problem("content[0].attachment.data", f"the file is not a {content_type} file")
    title = attachment.title or resource.description or name_of(resource.type) or "Document"
    fields: dict[str, Any] = {
        "sensitivity": _sensitivity(resource),
        "kind": _kind(
            resource,
            codes.PORTAL_DOCUMENT_KIND,
            codes.DOCUMENT_KIND_BY_LOINC,
            list(Document.Kind.values),
            "other",
        ),
        "title": ctx.text(title, "content[0].attachment.title", 200),
        "description": str(resource.description or "") if attachment.title else "",
        "dated_on": ctx.day(_when(resource), "date"),
        "content_type": content_type,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    if number is None or fields["dated_on"] is None:
        return None
    return Row(
        Document, number, source_id, fields, where=ctx.where, links=_encounter(resource, ctx), content=content
    )


# Outbound -----------------------------------------------------------------------------------


def _type(portal_system: str, kind: str, loinc: tuple[str, str], label: str) -> dict[str, Any]:
    return {
        "coding": [
            {"system": codes.LOINC, "code": loinc[0], "display": loinc[1]},
            {"system": portal_system, "code": kind, "display": label},
        ],
        "text": label,
    }


def note_out(row: ClinicalNote, out: Out) -> dict[str, Any]:
    return clean(
        {
            "resourceType": "DocumentReference",
            "id": resource_id(row),
            "meta": meta("us-core-documentreference", row.sensitivity),
            "identifier": identifiers(row),
            "status": "entered-in-error" if row.status == ClinicalNote.Status.ENTERED_IN_ERROR else "current",
            "docStatus": "amended" if row.status == ClinicalNote.Status.AMENDED else "final",
            "type": _type(
                codes.PORTAL_NOTE_KIND, row.kind, codes.LOINC_BY_NOTE_KIND[row.kind], row.get_kind_display()
            ),
            "category": [{"coding": [{"system": codes.US_CORE_DOCUMENT_CATEGORY, "code": "clinical-note"}]}],
            "subject": out.subject,
            "date": moment_text(row.written_at),
            "author": [{"display": row.author_name}] if row.author_name else [],
            "description": row.title,
            "content": [
                {
                    "attachment": {
                        "contentType": "text/plain",
                        "data": base64.b64encode(row.body.encode()).decode(),
                        "title": row.title,
                    }
                }
            ],
            "context": {"encounter": [out.reference("records.encounter", row.encounter_id)]},
        }
    )


def document_out(row: Document, out: Out, *, inline: bool = True) -> dict[str, Any]:
    """The document with its file inlined (the export), or without (`inline=False`: the API
    links to the file instead, and reading the file to throw it away would be waste)."""
    # An instant is required; midnight where the patient is keeps the same calendar day.
    midnight = dt.datetime.combine(row.dated_on, dt.time.min, tzinfo=timezone.get_current_timezone())
    kind = codes.LOINC_BY_DOCUMENT_KIND.get(row.kind, codes.LOINC_BY_DOCUMENT_KIND["other"])
    return clean(
        {
            "resourceType": "DocumentReference",
            "id": resource_id(row),
            "meta": meta("us-core-documentreference", row.sensitivity),
            "identifier": identifiers(row),
            "status": "current",
            "type": _type(codes.PORTAL_DOCUMENT_KIND, row.kind, kind, row.get_kind_display()),
            "category": [{"coding": [{"system": codes.US_CORE_DOCUMENT_CATEGORY, "code": "clinical-note"}]}],
            "subject": out.subject,
            "date": moment_text(midnight),
            "description": row.description,
            "content": [
                {
                    "attachment": {
                        "contentType": row.content_type,
                        "data": _file_data(row) if inline else None,
                        "title": row.title,
                        "size": row.size,
                    }
                }
            ],
            "context": {"encounter": [out.reference("records.encounter", row.encounter_id)]},
        }
    )


def _file_data(row: Document) -> str | None:
    try:
        with row.file.open("rb") as handle:
            return base64.b64encode(handle.read()).decode()
    except (OSError, ValueError):
        # A missing file still leaves the document's description in the export.
        logger.warning("Document %s has no readable file", row.pk)
        return None
