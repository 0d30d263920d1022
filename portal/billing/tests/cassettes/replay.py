"""Replays recorded Stripe exchanges through the official library's own HTTP client hook.

A cassette (`cassettes/stripe/<name>.json`) lists the exchanges in order: the request
we expect (method, path, every form or query parameter, and the headers that matter,
such as `Idempotency-Key`) and Stripe's answer (status and JSON body, shaped as in
Stripe's API reference), or `{"error": "connection"}` for a request that never got an
answer. Each request the library makes must match the next recorded one exactly;
nothing goes to the network. `<name>` placeholders in a recorded request are filled in
from the test's values (an account number made at random, for instance).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

HERE = Path(__file__).resolve().parent / "stripe"


@dataclass(frozen=True)
class Sent:
    """One request as the library made it."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str] = field(repr=False)


class ReplayClient(stripe.HTTPClient):
    name = "replay"

    def __init__(self, cassette: str, **values: str) -> None:
        super().__init__()
        self.cassette = cassette
        self.exchanges: list[dict[str, Any]] = json.loads((HERE / f"{cassette}.json").read_text())[
            "exchanges"
        ]
        self.values = values
        self.sent: list[Sent] = []

    def request(
        self,
        method: str,
        url: str,
        headers: Any,
        post_data: Any = None,
        *,
        _usage: Any = None,
    ) -> tuple[str, int, dict[str, str]]:
        parts = urlsplit(url)
        body = post_data.decode() if isinstance(post_data, bytes) else post_data
        sent = Sent(
            method=method.upper(),
            path=parts.path,
            params=dict(parse_qsl(body or parts.query, keep_blank_values=True)),
            headers=dict(headers or {}),
        )
        self.sent.append(sent)
        number = len(self.sent)
        assert number <= len(self.exchanges), f"{self.cassette}: unexpected request {number}: {sent}"
        exchange = self.exchanges[number - 1]
        self._check(number, sent, exchange["request"])
        response = exchange["response"]
        if response.get("error") == "connection":
            raise stripe.APIConnectionError("Network error: timed out (recorded)", should_retry=True)
        return json.dumps(response["body"]), response["status"], {"request-id": f"req_replay{number}"}

    def _check(self, number: int, sent: Sent, expected: dict[str, Any]) -> None:
        where = f"{self.cassette}, request {number}"
        assert (sent.method, sent.path) == (expected["method"], self._fill(expected["path"])), where
        wanted = {name: self._fill(value) for name, value in expected.get("params", {}).items()}
        assert sent.params == wanted, f"{where}: parameters differ\n sent {sent.params}\n want {wanted}"
        for name, value in expected.get("headers", {}).items():
            assert sent.headers.get(name) == self._fill(value), (
                f"{where}: header {name} is {sent.headers.get(name)!r}"
            )

    def _fill(self, text: str) -> str:
        for name, value in self.values.items():
            text = text.replace(f"<{name}>", value)
        return text

    def request_stream(self, method: str, url: str, headers: Any, post_data: Any = None, **_: Any) -> Any:
        raise NotImplementedError("the gateway never streams")

    def close(self) -> None:
        pass

    def assert_finished(self) -> None:
        assert len(self.sent) == len(self.exchanges), (
            f"{self.cassette}: {len(self.exchanges) - len(self.sent)} recorded request(s) never made"
        )
