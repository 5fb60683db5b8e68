"""Fixtures of the embedded-mode tests (tests/foundation/embedded.py), defined once so the session shares them."""
from tests.foundation.embedded import embedded_db, migrated  # noqa: F401
