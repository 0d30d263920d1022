"""What the crash test reads back once every server and worker is stopped, run as a process
against the same database the servers used: `python -m portal.core.tests.crash_check OUT`.

First it does what the operator's `portal deliver_outbox` (cron) does after an outage, at a
moment past the outbox lease, so claims left by a killed worker are taken over with their
idempotency keys. Then it writes the state as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any


def collect() -> dict[str, Any]:
    from django.utils import timezone

    from portal.audit.verify import verify_chain
    from portal.billing import payments
    from portal.billing.models import LedgerEntry, Payment, SandboxCharge
    from portal.messaging.models import Message
    from portal.notifications import outbox
    from portal.notifications.models import MailboxEntry, OutboxMessage
    from portal.scheduling.models import Appointment

    # First what the worker's `reconcile_pending` does five minutes on: settle each payment a
    # kill left pending by asking the gateway what it did with the key (a
    # settled payment queues its receipt email, delivered below).
    settled = payments.reconcile_pending(older_than=dt.timedelta(0))
    # One second past the lease: every claim a killed worker left has expired.
    later = timezone.now() + outbox.LEASE + dt.timedelta(seconds=1)
    drained = 0
    while sent := outbox.deliver_due(now=later):
        drained += sent
    count, problems = verify_chain()
    return {
        "drained": drained,
        "settled": settled,
        "charges": list(SandboxCharge.objects.values_list("idempotency_key", "status")),
        "appointments": list(Appointment.objects.values("id", "slot_id", "patient_id", "status")),
        "messages": list(Message.objects.filter(body__startswith="crash-").values_list("body", flat=True)),
        "payments": list(Payment.objects.values("id", "idempotency_key", "status", "amount_cents")),
        "ledger_payments": list(
            LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYMENT).values_list("payment_id", flat=True)
        ),
        "outbox": [
            {
                "id": row.pk,
                "channel": row.channel,
                "sent": row.sent_at is not None,
                "cancelled": row.cancelled_at is not None,
                "attempts": row.attempts,
                "error": row.last_error,
                # Reminders for the booked visits fall due days from now.
                "due": row.send_after <= later,
                "claimed": row.claimed_at is not None,
                "staff": row.for_staff,
                "topic": row.topic,
                "address": row.recipient.email,
            }
            for row in OutboxMessage.objects.select_related("recipient").order_by("pk")
        ],
        "mailbox": list(MailboxEntry.objects.values_list("idempotency_key", flat=True)),
        "audit_rows": count,
        "audit_problems": [f"{problem.sequence}: {problem.message}" for problem in problems],
    }


def main() -> None:
    import django

    django.setup()
    Path(sys.argv[1]).write_text(json.dumps(collect(), default=str))


if __name__ == "__main__":
    main()
