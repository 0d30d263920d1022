from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django import forms
from django.core.cache import cache
from django.core.signing import dumps
from django.test.utils import override_settings

from portal.lib import challenge
from portal.lib.challenge import ChallengeFailed, ChallengeFormMixin


class NameForm(ChallengeFormMixin, forms.Form):
    name = forms.CharField()


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


def _solved(**changes: str) -> dict[str, str]:
    token = challenge.issue().token
    return {"name": "Nina", "challenge": token, "challenge_proof": challenge.solve(token), **changes}


def test_a_solved_challenge_is_accepted_once() -> None:
    data = _solved()
    assert NameForm(data).is_valid()
    replay = NameForm(data)
    assert not replay.is_valid()
    assert "challenge_answer" in replay.errors


def test_the_sum_is_accepted_without_javascript() -> None:
    issued = challenge.issue()
    form = NameForm({"name": "Nina", "challenge": issued.token, "challenge_answer": f" {issued.answer} "})
    assert form.is_valid()


@pytest.mark.parametrize(
    "changes",
    [
        {"challenge_proof": "", "challenge_answer": "1000"},
        {"challenge_proof": "not a proof!"},
        {"challenge": ""},
        {"challenge": "forged:token"},
    ],
)
def test_a_wrong_or_missing_answer_is_refused(changes: dict[str, str]) -> None:
    form = NameForm(_solved(**changes))
    assert not form.is_valid()
    assert form.errors["challenge_answer"] == ["Answer the security question, in digits."]
    assert not form.bot_suspected


def test_an_insufficient_proof_is_refused() -> None:
    hard = challenge.issue(difficulty=24)
    easy_proof = challenge.solve(challenge.issue(difficulty=1).token)
    with pytest.raises(ChallengeFailed):
        challenge.verify(hard.token, easy_proof)


def test_a_token_signed_elsewhere_is_refused() -> None:
    other = dumps({"d": 0, "a": 1, "b": 1, "r": "x"}, salt="someone-else")
    with pytest.raises(ChallengeFailed):
        challenge.verify(other, "0")


def test_an_expired_challenge_is_refused() -> None:
    with time_machine.travel(dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC), tick=False):
        data = _solved()
    with time_machine.travel(dt.datetime(2026, 1, 1, 13, 1, tzinfo=dt.UTC), tick=False):
        form = NameForm(data)
        assert not form.is_valid()
        assert "challenge_answer" in form.errors


def test_the_difficulty_is_configurable() -> None:
    with override_settings(PORTAL_CHALLENGE_DIFFICULTY=12):
        issued = challenge.issue()
    assert issued.difficulty == 12
    proof = challenge.solve(issued.token)
    assert challenge.leading_zero_bits(challenge.proof_digest(issued.token, proof)) >= 12


def test_the_honeypot_rejects_quietly() -> None:
    form = NameForm(_solved(website="https://spam.example"))
    assert not form.is_valid()
    assert form.bot_suspected
    assert form.non_field_errors() == ["We could not accept this form. Please try again."]


def test_a_re_rendered_form_carries_a_fresh_challenge() -> None:
    data = _solved(name="")
    form = NameForm(data)
    assert not form.is_valid()
    html = str(form.challenge_fields)
    token = re.search(r'name="challenge" value="([^"]+)"', html)
    assert token is not None and token.group(1) != data["challenge"]
    assert NameForm(
        {"name": "Nina", "challenge": token.group(1), "challenge_proof": challenge.solve(token.group(1))}
    ).is_valid()


def test_the_fields_work_without_javascript_and_hide_the_honeypot() -> None:
    html = str(NameForm().challenge_fields)
    question = re.search(r"What is (\d) plus (\d)\?", html)
    assert question is not None
    assert 'id="id_challenge_answer"' in html and 'aria-describedby="id_challenge_answer_helptext"' in html
    assert re.search(r'<div class="visually-hidden" aria-hidden="true"><label for="id_website">', html)
    assert re.search(r'<input type="text" name="website"[^>]*tabindex="-1"[^>]*autocomplete="off"', html)
    assert '<script src="/static/js/challenge.js" defer></script>' in html
    assert "onclick" not in html and "<script>" not in html
