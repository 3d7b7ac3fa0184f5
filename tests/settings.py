"""The tests' settings: the project's, in development mode (DEBUG on) unless the environment says otherwise.

Django's test runner turns DEBUG off while the tests run anyway; development
mode spares the tests a production SECRET_KEY. The production defaults are
tested in test_settings.py, in processes of their own.
"""

import os

os.environ.setdefault("DEBUG", "true")

from electionsite.settings import *  # noqa: E402, F403
