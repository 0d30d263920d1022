"""The settings pytest uses: the portal's own settings in `test` mode.

pytest-django imports settings before any conftest runs, so the mode is set here rather
than in conftest.py; running `pytest` directly then behaves like `make test` (unless
PORTAL_ENV is already set to something else in the environment).
"""

import os

# setdefault: a test that starts a subprocess in production mode keeps it.
os.environ.setdefault("PORTAL_ENV", "test")

from portal.settings import *  # noqa: F403
