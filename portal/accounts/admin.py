from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from portal.accounts.models import SignInThrottle, User

admin.site.register(User, UserAdmin)
# The admin signs in through the portal's sign-in page, so throttling, lockout and
# two-factor apply there too.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]


@admin.register(SignInThrottle)
class SignInThrottleAdmin(admin.ModelAdmin[SignInThrottle]):
    """Read-only: who is being slowed or locked out. A password reset unlocks an account."""

    list_display = ["scope", "key", "failures", "last_failure_at", "locked_until"]
    list_filter = ["scope"]
    search_fields = ["key"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SignInThrottle | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SignInThrottle | None = None) -> bool:
        return False
