"""Run a bench's ``main`` in a throw-away database beside DATABASE_URL's (``<name>_<suffix>``), dropped after.

The benches that start real Kamailios and Asterisks (failover.py, blf.py) build their estate through the portal's
own actions; a database of their own keeps them off the development data and lets two run side by side.
"""
from __future__ import annotations

import logging


def run_in_throwaway_database(suffix: str, main, *args) -> None:
    import django

    django.setup()
    logging.disable(logging.WARNING)
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"{old_name}_{suffix}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        main(*args)
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
