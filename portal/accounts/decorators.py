"""`require_recent_auth`: sensitive actions ask the user to prove it is still them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, overload

from allauth.account.decorators import reauthentication_required
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse

View = Callable[..., HttpResponse]


@overload
def require_recent_auth(view: View, /) -> View: ...


@overload
def require_recent_auth(*, allow_get: bool = ...) -> Callable[[View], View]: ...


def require_recent_auth(view: View | None = None, /, *, allow_get: bool = False) -> Any:
    """Let the view run only if the user signed in or re-authenticated in the last few minutes.

    Otherwise the user is sent to allauth's re-authentication page (password, or their
    authenticator app or passkey) and then brought back; a POST is replayed once they
    have confirmed, so nothing they typed is lost. The window is
    `ACCOUNT_REAUTHENTICATION_TIMEOUT` (five minutes). Anonymous users go to sign-in.

    Use it under the view's other decorators, on changes of email, phone, password,
    two-factor, proxies or payment methods, and on downloading the full record:

        @require_recent_auth
        def download_record(request): ...

        @require_recent_auth(allow_get=True)   # only the POST is sensitive
        def payment_methods(request): ...
    """

    def decorator(inner: View) -> View:
        # app="" makes allauth always require it, whatever ACCOUNT_REAUTHENTICATION_REQUIRED says.
        checked = reauthentication_required(inner, allow_get=allow_get, app="")
        return login_required(checked)

    if view is not None:
        return decorator(view)
    return decorator
