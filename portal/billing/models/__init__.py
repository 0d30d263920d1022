"""The billing app's models: ledger and statements, payments and plans, estimates, the sandbox gateway."""

from portal.billing.models.estimates import (
    AssistanceApplication,
    CoverageBenefits,
    Dispute,
    Estimate,
    PriceItem,
)
from portal.billing.models.ledger import Account, Claim, LedgerEntry, ServiceLine, Statement
from portal.billing.models.payments import Funding, Instalment, Payment, PaymentPlan, Refund, SavedCard
from portal.billing.models.sandbox import SandboxCharge, SandboxRefund, SandboxToken

__all__ = [
    "Account",
    "AssistanceApplication",
    "Claim",
    "CoverageBenefits",
    "Dispute",
    "Estimate",
    "Funding",
    "Instalment",
    "LedgerEntry",
    "Payment",
    "PaymentPlan",
    "PriceItem",
    "Refund",
    "SandboxCharge",
    "SandboxRefund",
    "SandboxToken",
    "SavedCard",
    "ServiceLine",
    "Statement",
]
