"""Share links: the patient's list, making and turning off links, each link's log, and the public viewer."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from portal.accounts.decorators import require_recent_auth
from portal.audit.actor import Actor
from portal.lib.paging import keyset_page
from portal.patients.access import PatientAccess, refuse
from portal.patients.models import Scope
from portal.patients.selection import patient_page
from portal.records.export import gather
from portal.records.export_views import attachment
from portal.records.models import ShareLink, ShareLinkOpen
from portal.records.pdf import pdf_filename, record_pdf, too_long_for_pdf
from portal.records.share_forms import PasscodeForm, ShareLinkForm
from portal.records.sharing import (
    do_create_share_link,
    do_record_share_open,
    do_revoke_share_link,
    link_from_token,
    passcode_locked,
    passcode_matches,
    selection_of,
    share_access,
    status_label,
)

LINKS_SHOWN = 50
OPENS_SHOWN = 50
UNLOCKED_SESSION_KEY = "shared_links_unlocked"
# How each visit reads in a link's log (the stored outcome is terser).
OUTCOME_LABELS: dict[str, Any] = {
    ShareLinkOpen.Outcome.OPENED: gettext_lazy("Opened"),
    ShareLinkOpen.Outcome.WRONG_PASSCODE: gettext_lazy("Wrong passcode"),
    ShareLinkOpen.Outcome.REFUSED: gettext_lazy("Refused: the link had ended or was locked"),
}


# The patient's side -------------------------------------------------------------------------


def _cannot_share(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    return render(request, "records/share_cannot.html", {"access": access}, status=403)


def _link_or_404(request: HttpRequest, access: PatientAccess, link_id: int) -> ShareLink:
    # Ids beyond a database integer are simply missing (SQLite would overflow on them).
    link = ShareLink.objects.filter(patient=access.patient, pk=link_id).first() if link_id < 2**63 else None
    if link is None:
        refuse(request, access.patient, what="records.sharelink", lookup=str(link_id))
    return link  # type: ignore[return-value]


@patient_page(scope=Scope.VIEW)
def link_list(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """The patient's share links, newest first, with their status and how often they were opened."""
    if not access.manages_account:
        return _cannot_share(request, access)
    links = ShareLink.objects.filter(patient=access.patient).annotate(
        times_opened=Count("opens", filter=Q(opens__outcome=ShareLinkOpen.Outcome.OPENED))
    )
    page = keyset_page(links, request.GET.get("before"), LINKS_SHOWN)
    now = timezone.now()
    rows = [(link, status_label(link, now), selection_of(link)) for link in page.items]
    return render(request, "records/share_list.html", {"access": access, "rows": rows, "page": page})


@patient_page(scope=Scope.VIEW)
@require_recent_auth
def new(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if not access.manages_account:
        return _cannot_share(request, access)
    form = ShareLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        link, token = do_create_share_link(
            Actor.from_request(request),
            access,
            recipient=data["recipient"],
            selection=form.selection(),
            expires_in_days=data["expires_in"],
            passcode=data["passcode"],
        )
        # Shown in this response only: the token is not stored, so it cannot be shown again.
        url = request.build_absolute_uri(reverse("shared:open", args=[token]))
        context = {"access": access, "link": link, "url": url, "selection": selection_of(link)}
        return render(request, "records/share_created.html", context)
    return render(request, "records/share_new.html", {"access": access, "form": form})


@patient_page(scope=Scope.VIEW)
def detail(request: HttpRequest, access: PatientAccess, link_id: int) -> HttpResponse:
    """One link: what it shares, and every visit to it."""
    if not access.manages_account:
        return _cannot_share(request, access)
    link = _link_or_404(request, access, link_id)
    opens = keyset_page(ShareLinkOpen.objects.filter(link=link), request.GET.get("before"), OPENS_SHOWN)
    context = {
        "access": access,
        "link": link,
        "status": status_label(link),
        "selection": selection_of(link),
        "opens": [(visit, OUTCOME_LABELS.get(visit.outcome, visit.outcome)) for visit in opens.items],
        "page": opens,
    }
    return render(request, "records/share_detail.html", context)


@patient_page(scope=Scope.VIEW)
@require_POST
def revoke(request: HttpRequest, access: PatientAccess, link_id: int) -> HttpResponse:
    if not access.manages_account:
        return _cannot_share(request, access)
    link = _link_or_404(request, access, link_id)
    if do_revoke_share_link(Actor.from_request(request), access, link):
        messages.success(
            request, _("The link for %(recipient)s no longer works.") % {"recipient": link.recipient}
        )
    else:
        messages.info(request, _("That link was already turned off."))
    return redirect("record_sharing:list")


# The public viewer --------------------------------------------------------------------------


def _unlisted(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Keep shared pages out of search engines, and their address out of other sites' logs."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["X-Robots-Tag"] = "noindex, nofollow"
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    return wrapper


def _not_valid(request: HttpRequest) -> HttpResponse:
    # One page for unknown, expired, revoked and orphaned links: a link's state is nobody's business.
    return render(request, "records/shared_not_valid.html", status=404)


def _unlocked(request: HttpRequest, link: ShareLink) -> bool:
    return not link.passcode_hash or link.pk in request.session.get(UNLOCKED_SESSION_KEY, [])


def _unlock(request: HttpRequest, link: ShareLink) -> None:
    unlocked = [pk for pk in request.session.get(UNLOCKED_SESSION_KEY, []) if pk != link.pk]
    request.session[UNLOCKED_SESSION_KEY] = [*unlocked[-19:], link.pk]


def _load(request: HttpRequest, token: str) -> tuple[ShareLink, PatientAccess] | None:
    """The link and the access it shows, or None (a refused visit to a real link is logged)."""
    link = link_from_token(token)
    if link is None:
        return None
    access = share_access(link)
    if access is None:
        do_record_share_open(Actor.from_request(request), link, ShareLinkOpen.Outcome.REFUSED)
        return None
    return link, access


@_unlisted
@require_http_methods(["GET", "HEAD", "POST"])
def open_link(request: HttpRequest, token: str) -> HttpResponse:
    """What a share link shows, after its passcode if it has one."""
    loaded = _load(request, token)
    if loaded is None:
        return _not_valid(request)
    link, access = loaded
    if not _unlocked(request, link):
        return _passcode(request, link)
    if request.method == "POST":
        return redirect(request.path)
    do_record_share_open(Actor.from_request(request), link, ShareLinkOpen.Outcome.OPENED)
    export = gather(access, selection_of(link))
    context = {
        "link": link,
        "export": export,
        "pdf_available": not too_long_for_pdf(export),
        "shared_by": _shared_by(link, access),
        "token": token,
    }
    return render(request, "records/shared_view.html", context)


def _shared_by(link: ShareLink, access: PatientAccess) -> str:
    if link.created_by_id == link.patient.account_id:
        return link.patient.full_name
    return access.user.display_name


def _passcode(request: HttpRequest, link: ShareLink) -> HttpResponse:
    """Ask for the link's passcode; a right one unlocks the link for this browser's session."""
    form = PasscodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and passcode_locked(link):
        # Locked: not even checked, so a guesser learns nothing until the hour is up.
        do_record_share_open(Actor.from_request(request), link, ShareLinkOpen.Outcome.REFUSED)
    elif request.method == "POST" and form.is_valid():
        if passcode_matches(link, form.cleaned_data["passcode"]):
            _unlock(request, link)
            return redirect(request.path)
        do_record_share_open(Actor.from_request(request), link, ShareLinkOpen.Outcome.WRONG_PASSCODE)
        form.add_error("passcode", _("That passcode is not right."))
        status = 400
    locked = passcode_locked(link)
    context = {"form": PasscodeForm() if locked else form, "locked": locked}
    response = render(request, "records/shared_passcode.html", context, status=429 if locked else status)
    # Under no-referrer, browsers send "Origin: null" with the form and Django's CSRF check
    # refuses it. Same-origin still keeps the link's address from every other site.
    response["Referrer-Policy"] = "same-origin"
    return response


@_unlisted
@require_http_methods(["GET", "HEAD"])
def open_pdf(request: HttpRequest, token: str) -> HttpResponse:
    """The same as the viewer, as a PDF."""
    loaded = _load(request, token)
    if loaded is None:
        return _not_valid(request)
    link, access = loaded
    if not _unlocked(request, link):
        return redirect("shared:open", token=token)
    export = gather(access, selection_of(link))
    if too_long_for_pdf(export):
        return redirect("shared:open", token=token)
    do_record_share_open(Actor.from_request(request), link, ShareLinkOpen.Outcome.OPENED, download=True)
    return attachment(record_pdf(export), "application/pdf", pdf_filename(export))
