"""A self-hosted security check for public forms: proof-of-work, with a question as fallback.

Each render carries a challenge signed with the secret key and a timestamp. The
browser (`static/js/challenge.js`) finds a counter whose SHA-256 with the challenge
starts with `difficulty` zero bits and puts it in a hidden field: a moment's work for
one person, real cost for a bot sending thousands. Without JavaScript (or without
SubtleCrypto) the visitor answers a simple sum instead. Either way the server checks
the signature, the age and that the challenge has not been used before (the cache
remembers used ones, so run Redis when there are several app servers).

A honeypot field, hidden from people and assistive technology, catches form-filling
bots; the form then fails with a generic error and sets `bot_suspected`, so a view can
pretend to succeed instead of teaching the bot anything.

Use it by mixing `ChallengeFormMixin` into a form (before the base form), calling
`super().clean()` from any `clean` of your own, and rendering `{{ form.challenge_fields }}`
inside the `<form>`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

SALT = "portal.lib.challenge"
USED_PREFIX = "challenge:used:"
PROOF_PATTERN = re.compile(r"^[0-9a-z]{1,32}$")
MAX_TOKEN_LENGTH = 400


class ChallengeFailed(ValueError):
    """The security check was missing, wrong, expired or already used."""


@dataclass(frozen=True)
class Challenge:
    """One issued challenge: the signed token, the work it asks for and the fallback sum."""

    token: str
    difficulty: int
    first: int
    second: int

    @property
    def answer(self) -> int:
        return self.first + self.second


def issue(difficulty: int | None = None) -> Challenge:
    """A fresh challenge at the configured (or given) difficulty."""
    bits = settings.PORTAL_CHALLENGE_DIFFICULTY if difficulty is None else difficulty
    first, second = 1 + secrets.randbelow(9), 1 + secrets.randbelow(9)
    payload = {"d": bits, "a": first, "b": second, "r": secrets.token_hex(8)}
    return Challenge(signing.dumps(payload, salt=SALT), bits, first, second)


def read(token: str, max_age: int | None = None) -> Challenge:
    """The challenge a token carries, if we signed it and it has not expired."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise ChallengeFailed("missing")
    age = settings.PORTAL_CHALLENGE_MAX_AGE if max_age is None else max_age
    try:
        payload = signing.loads(token, salt=SALT, max_age=age)
    except signing.SignatureExpired as exc:
        raise ChallengeFailed("expired") from exc
    except signing.BadSignature as exc:
        raise ChallengeFailed("forged") from exc
    try:
        return Challenge(token, int(payload["d"]), int(payload["a"]), int(payload["b"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ChallengeFailed("forged") from exc


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


def proof_digest(token: str, proof: str) -> bytes:
    return hashlib.sha256(f"{token}:{proof}".encode()).digest()


def proof_is_valid(challenge: Challenge, proof: str) -> bool:
    if not PROOF_PATTERN.match(proof):
        return False
    return leading_zero_bits(proof_digest(challenge.token, proof)) >= challenge.difficulty


def solve(token: str) -> str:
    """Do the browser's work in Python: for tests and scripted clients of our own."""
    challenge = read(token)
    counter = 0
    while True:
        proof = _base36(counter)
        if proof_is_valid(challenge, proof):
            return proof
        counter += 1


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, remainder = divmod(number, 36)
        text = digits[remainder] + text
        if number == 0:
            return text


def verify(token: str, proof: str = "", answer: str = "") -> None:
    """Accept a solved challenge once; raise ChallengeFailed otherwise."""
    challenge = read(token)
    solved = bool(proof) and proof_is_valid(challenge, proof)
    if not solved and answer.strip() != str(challenge.answer):
        raise ChallengeFailed("unsolved")
    # cache.add is atomic (Redis SET NX): of two requests replaying one token, one wins.
    key = USED_PREFIX + hashlib.sha256(token.encode()).hexdigest()
    if not cache.add(key, True, timeout=settings.PORTAL_CHALLENGE_MAX_AGE + 60):
        raise ChallengeFailed("replayed")


class ChallengeFormMixin(forms.Form):
    """Adds the security check and a honeypot to a form.

    `is_valid()` is False unless the check passes and the honeypot is empty. After
    validation the form carries a fresh challenge, so a re-rendered form can be sent
    again.
    """

    challenge = forms.CharField(required=False, widget=forms.HiddenInput)
    challenge_proof = forms.CharField(required=False, max_length=32, widget=forms.HiddenInput)
    challenge_answer = forms.CharField(
        label=_("Security question"),
        required=False,
        max_length=10,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "size": "4"}),
    )
    # Named like a field bots love to fill; people never see it.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    # The mixin's own fields, for templates that loop over the others.
    challenge_field_names = ("challenge", "challenge_proof", "challenge_answer", "website")
    bot_message = _("We could not accept this form. Please try again.")
    challenge_message = _("Answer the security question, in digits.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bot_suspected = False
        self._challenge = issue()
        self.fields["challenge"].initial = self._challenge.token

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("website"):
            self.bot_suspected = True
            raise forms.ValidationError(self.bot_message, code="bot")
        try:
            verify(
                cleaned.get("challenge") or "",
                cleaned.get("challenge_proof") or "",
                cleaned.get("challenge_answer") or "",
            )
        except ChallengeFailed:
            self.add_error(
                "challenge_answer", forms.ValidationError(self.challenge_message, code="challenge")
            )
        return cleaned

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound:
            self._renew_challenge()

    def _renew_challenge(self) -> None:
        # A challenge works once; whatever happens next, a re-rendered form needs a new one.
        data = cast(Any, self.data).copy()  # a QueryDict's copy is mutable
        data[self.add_prefix("challenge")] = self._challenge.token
        data[self.add_prefix("challenge_proof")] = ""
        data[self.add_prefix("challenge_answer")] = ""
        data[self.add_prefix("website")] = ""
        self.data = data

    @property
    def challenge_fields(self) -> SafeString:
        """The hidden challenge, the fallback question, the honeypot and the script."""
        answer = self["challenge_answer"]
        question = gettext("What is %(first)d plus %(second)d?") % {
            "first": self._challenge.first,
            "second": self._challenge.second,
        }
        error = format_html(
            '<p class="error-message" id="{}_error">{}</p>',
            answer.auto_id,
            " ".join(str(error) for error in answer.errors),
        )
        return format_html(
            '<div data-challenge data-challenge-difficulty="{difficulty}">{token}{proof}'
            '<div class="field{error_class}" data-challenge-question>'
            '<label for="{answer_id}">{label}: {question}</label>'
            '<p class="hint" id="{answer_id}_helptext">{hint}</p>{error}{answer}</div>'
            '<div class="visually-hidden" aria-hidden="true"><label for="{trap_id}">{trap_label}</label>{trap}</div>'
            '</div><script src="{script}" defer></script>',
            difficulty=self._challenge.difficulty,
            token=self["challenge"].as_widget(attrs={"data-challenge-token": ""}),
            proof=self["challenge_proof"].as_widget(attrs={"data-challenge-proof": ""}),
            error_class=" field-error" if answer.errors else "",
            answer_id=answer.id_for_label,
            label=answer.label,
            question=question,
            hint=gettext("This checks that a person is filling in the form. Enter the answer in digits."),
            error=error if answer.errors else "",
            answer=answer.as_widget(attrs={"aria-describedby": self._described_by(answer)}),
            trap_id=self["website"].id_for_label,
            trap_label=self["website"].label,
            trap=self["website"].as_widget(),
            script=static("js/challenge.js"),
        )

    @staticmethod
    def _described_by(answer: forms.BoundField) -> str:
        ids = [f"{answer.auto_id}_helptext"]
        if answer.errors:
            ids.append(f"{answer.auto_id}_error")
        return " ".join(ids)
