from tests.databases import *  # noqa: F401,F403
