"""Sessions in the shared database, as Django keeps them, read with one plain statement.

Every signed-in page reads its session first. Django's database store reads it through the ORM (a queryset
built, compiled to SQL and turned into a model instance each time: about a millisecond of the portal's CPU
per request on the 2-core bench machine); the statement never changes, so this store writes it once. Saving, expiry, ``clearsessions`` and the table are Django's own.
"""
from __future__ import annotations

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def load(self):
        if self.session_key is None:
            return {}
        model = self.model
        connection = connections[router.db_for_read(model)]
        ops = connection.ops
        sql = (f"SELECT {ops.quote_name('session_data')} FROM {ops.quote_name(model._meta.db_table)} "
               f"WHERE {ops.quote_name('session_key')} = %s AND {ops.quote_name('expire_date')} > %s")
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.session_key, ops.adapt_datetimefield_value(timezone.now())])
            row = cursor.fetchone()
        if row is None:  # unknown or expired: a new session, as Django's store does
            self._session_key = None
            return {}
        return self.decode(row[0])
