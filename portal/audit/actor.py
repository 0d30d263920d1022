"""Who is doing something, and from where: the context every audited call carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest

if TYPE_CHECKING:
    from portal.accounts.models import User


@dataclass(frozen=True)
class Actor:
    """The user acting (None for the system or an anonymous visitor) and their client."""

    user: User | None
    client_ip: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        # Requests built outside the middleware (test logins) may carry no user.
        current = getattr(request, "user", None)
        user = current if current is not None and current.is_authenticated else None
        return cls(
            user=user,
            client_ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:300],
        )

    @classmethod
    def system(cls) -> Actor:
        return cls(user=None)


def client_ip(request: HttpRequest, *, strict: bool = False) -> str | None:
    """The client's address, trusting X-Forwarded-For only as far as our own proxies.

    With TRUSTED_PROXY_COUNT proxies in front of us, the address the outermost of them
    saw is that many entries from the end of the header; anything before it may be
    forged by the client. A shorter header means the request skipped a proxy: for the
    record the immediate peer is the best we know, but with `strict` (deciding access by
    address) the answer is None, since that peer is one of our own proxies.
    """
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [
            part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops]
        if strict:
            return None
    return request.META.get("REMOTE_ADDR") or None
