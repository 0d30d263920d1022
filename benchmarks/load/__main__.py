"""`python -m benchmarks.load`: the multi-process load test (docs/benchmarks.md, "Load test").

    python -m benchmarks.load --users 200 --duration 60 --servers 2 --workers-per-server 5 \
        --database postgres

Starts `--servers` app servers with `portal serve` on loopback ports against the benchmark
database (development mode with DEBUG off, as the page benchmark runs), mints the
simulated patients' sessions, runs the load generator and prints the summary as JSON
(also written to `--output` when given).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from benchmarks import environment
from benchmarks.load.harness import run_load

POSTGRES_BENCH_URL = "postgres://postgres@127.0.0.1:5432/portal_bench"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load after the warm-up")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of load not counted, first")
    parser.add_argument("--think", type=float, default=1.0, help="mean think time between actions, seconds")
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--workers-per-server", type=int, default=(os.cpu_count() or 1) + 1)
    parser.add_argument("--worker-class", choices=("sync", "gthread", "uvicorn"), default="gthread")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--database-url", default=POSTGRES_BENCH_URL, help="with --database postgres")
    parser.add_argument(
        "--data-dir", type=Path, default=environment.BENCH_DATA_DIR, help="with --database sqlite"
    )
    parser.add_argument(
        "--sign-in-users", type=int, default=None, help="patients given a password (default users/10)"
    )
    parser.add_argument("--output", type=Path, default=None, help="also write the summary (JSON) here")
    args = parser.parse_args(argv)

    if args.database == "postgres":
        os.environ["DATABASE_URL"] = args.database_url
        database = {"DATABASE_URL": args.database_url}
    else:
        os.environ.pop("DATABASE_URL", None)
        database = {"PORTAL_DATA_DIR": str(args.data_dir)}
    environment.configure(args.data_dir)

    sign_ins = args.sign_in_users if args.sign_in_users is not None else max(1, args.users // 10)
    summary = run_load(
        database,
        users=args.users,
        sign_ins=sign_ins,
        duration=args.duration,
        warmup=args.warmup,
        think=args.think,
        servers=args.servers,
        workers=args.workers_per_server,
        worker_class=args.worker_class,
        threads=args.threads,
        logs=args.data_dir / "load-logs",
    )
    summary["setup"] = {
        "users": args.users,
        "sign_in_users": sign_ins,
        "servers": args.servers,
        "workers_per_server": args.workers_per_server,
        "worker_class": args.worker_class,
        "threads": args.threads,
        "think_seconds": args.think,
        "warmup_seconds": args.warmup,
        "duration_seconds": args.duration,
        "database": args.database,
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
    return summary


if __name__ == "__main__":
    result = main()
    sys.exit(1 if result["errors"] else 0)
