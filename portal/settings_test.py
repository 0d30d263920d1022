"""The settings pytest uses: the portal's own settings in `test` mode.

pytest-django imports settings before any conftest runs, so the mode is set here rather
than in conftest.py; running `pytest` directly then behaves like `make test`.
"""

import os

os.environ["PORTAL_ENV"] = "test"

from portal.settings import *  # noqa: F403
