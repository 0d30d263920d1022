"""Delivery workers for the kill test, started (and killed) as separate processes:

    python -m portal.notifications.tests.delivery_worker

sets Django up once, with the slow local providers (email through `EMAIL_BACKEND`, texts
through `PORTAL_SMS_PROVIDER=slow-local`) and the outbox lease given in
`OUTBOX_TEST_LEASE_SECONDS`, then forks a worker running `portal deliver_outbox` for
each `start` line on standard input (answering its process id), so each worker starts
in milliseconds rather than seconds, as gunicorn's preloaded workers do. `wait PID` and
`poll PID` answer a worker's exit code (negative: the signal that killed it), or
`running`. It works on whatever database the environment names.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import sys
import traceback

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    # Imported once Django is set up: they load models.
    from django.db import connections
    from django.urls import get_resolver

    from portal.notifications import outbox
    from portal.notifications.sms import registry
    from portal.notifications.tests.delivery_support import SLOW_PROVIDER, SlowLocalSmsProvider

    # Short, so a worker started after a kill can take over the killed one's claims.
    outbox.LEASE = dt.timedelta(seconds=float(os.environ["OUTBOX_TEST_LEASE_SECONDS"]))
    registry.register(SLOW_PROVIDER, SlowLocalSmsProvider)
    get_resolver().url_patterns  # noqa: B018  (loads every view now: emails carry links)
    connections.close_all()  # each worker opens its own
    answer("ready")
    for line in sys.stdin:
        command, _sep, argument = line.strip().partition(" ")
        if command == "start":
            answer(str(_fork_worker()))
        elif command in ("wait", "poll"):
            pid, status = os.waitpid(int(argument), 0 if command == "wait" else os.WNOHANG)
            answer(str(os.waitstatus_to_exitcode(status)) if pid else "running")


def answer(text: str) -> None:
    sys.stdout.write(f"{text}\n")
    sys.stdout.flush()


def _fork_worker() -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        from django.core.management import call_command

        call_command("deliver_outbox", stdout=io.StringIO())
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()
