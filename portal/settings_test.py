"""The settings pytest uses: the portal's own settings in `test` mode.

pytest-django imports settings before any conftest runs, so the mode is set here rather
than in conftest.py; running `pytest` directly then behaves like `make test` (unless
PORTAL_ENV is already set to something else in the environment).
"""

import os

# setdefault: a test that starts a subprocess in production mode keeps it.
os.environ.setdefault("PORTAL_ENV", "test")

from portal.settings import *  # noqa: F403

# Test databases are built straight from the models instead of by replaying every
# migration (about 45 s of migration-state rendering per database, for each test worker on
# each engine); conftest.py then records every migration as applied and runs the portal's
# data migrations, so the result is the database `migrate` makes. One test replays every
# migration into a new database on each engine and compares the two schemas
# (core/tests/test_migrations_build_the_models.py).
for _database in DATABASES.values():  # noqa: F405
    _test = _database.get("TEST")
    _database["TEST"] = {**(_test if isinstance(_test, dict) else {}), "MIGRATE": False}
