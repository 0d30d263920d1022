"""Byte counts for people."""

from __future__ import annotations


def human_size(size: int) -> str:
    value, unit = float(size), "bytes"
    for bigger in ("KB", "MB", "GB", "TB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{size:,} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
