"""Which patient a signed-in user is acting for on the patient side of the portal.

A user who acts for several patients (themself and a child, say) picks one with the
switcher; the choice lives in the session and is re-checked against the access policy
on every request, so a revoked or expired grant stops working at once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from portal.patients.access import PatientAccess, portal_patients
from portal.patients.models import Scope

SESSION_KEY = "acting_for_patient"


def choose(accesses: list[PatientAccess], patient_id: Any) -> PatientAccess | None:
    return next((access for access in accesses if str(access.patient.pk) == str(patient_id)), None)


def current_access(request: HttpRequest) -> tuple[PatientAccess | None, list[PatientAccess]]:
    """The access for the patient being viewed, and every patient the user may switch to."""
    accesses = portal_patients(request.user)  # type: ignore[arg-type]
    chosen = choose(accesses, request.session.get(SESSION_KEY))
    if chosen is None and accesses:
        chosen = accesses[0]
        request.session[SESSION_KEY] = chosen.patient.pk
    return chosen, accesses


def patient_page(
    scope: str | None = Scope.VIEW,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Decorate a patient-side view: signed in, acting for a patient, with `scope` (if any).

    The view receives the `PatientAccess` as its second argument; templates get it as
    `access` and the switcher list as `accesses`.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            access, accesses = current_access(request)
            if access is None:
                if getattr(request.user, "is_workforce", False):
                    return redirect("staff:home")
                return render(request, "patients/no_patient.html", status=200)
            # Read by the `acting_for` context processor to draw the switcher.
            setattr(request, "portal_accesses", accesses)  # noqa: B010
            if scope is not None and not access.allows(scope):
                return render(
                    request,
                    "patients/scope_missing.html",
                    {"access": access, "accesses": accesses},
                    status=403,
                )
            return view(request, access, *args, **kwargs)

        return wrapper

    return decorator


def acting_for(request: HttpRequest) -> dict[str, Any]:
    """Context processor: everyone the user may switch to, on patient-side pages."""
    return {"accesses": getattr(request, "portal_accesses", [])}
