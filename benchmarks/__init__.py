"""The performance suite: a data generator and a runner that records results in the docs.

    .venv/bin/python -m benchmarks.generate --patients 100000
    .venv/bin/python -m benchmarks.run

Both work on their own database (SQLite under var/bench/, or the PostgreSQL database
named by DATABASE_URL), never on the demo's. See docs/benchmarks.md.
"""
