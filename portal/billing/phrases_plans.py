"""How billing (plans) reads in the patient's access log."""

from __future__ import annotations
