import sys

# The fixtures live in tests/kamailio_fixtures.py so the whole suite can register them with
# `pytest_plugins = ["tests.kamailio_fixtures"]` in tests/conftest.py. Until then, import them here.
if "tests.kamailio_fixtures" not in sys.modules:
    from tests.kamailio_fixtures import kamailio, kamailio_clean  # noqa: F401
