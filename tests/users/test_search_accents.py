"""Search ignores accents and case and finds extension prefixes: "garcia" finds "García" and "GARCÍA", "40"
finds 4003 — on the list page and the API (one FilterSet), on PostgreSQL and on the embedded SQLite."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sites import actions as site_actions
from tests.foundation.embedded import ROOT, embedded_env
from voipadmin.search import fold_term

pytestmark = pytest.mark.django_db


def listed(admin_client, **query) -> list[int]:
    html = admin_client.get(reverse("users:sipuser_list"), query).content.decode()
    return sorted(int(x) for x in re.findall(r'<td><a href="/users/\d+/">(\d+)</a>', html))


def from_api(admin_client, **query) -> list[int]:
    response = admin_client.get("/api/v1/users/", query)
    assert response.status_code == 200, response.content
    return sorted(row["extension"] for row in response.json()["results"])


@pytest.fixture
def people(require_postgres, make_user):
    make_user(1001, name="Ana García", email="ana.garcia@corp.test")
    make_user(1002, name="JOSÉ GARCÍA", email="jose@corp.test")
    make_user(1003, name="Luis Martín", email="luis.pena@corp.test")
    make_user(4003, site="branch1", name="Íñigo Núñez", email="inigo@corp.test")


def test_the_term_is_folded_as_the_database_folds_the_column():
    assert fold_term("  GARCÍA ") == "garcia" and fold_term("Íñigo Núñez") == "inigo nunez"
    assert fold_term(unicodedata.normalize("NFD", "García")) == "garcia"  # (typed with a combining accent)
    assert fold_term("Çàëôü") == "caeou" and fold_term("100%_") == "100%_"


@pytest.mark.parametrize("term, expected", [
    ("garcia", [1001, 1002]), ("GARCÍA", [1001, 1002]), ("García", [1001, 1002]),
    (unicodedata.normalize("NFD", "garcía"), [1001, 1002]), ("jose garcia", [1002]),
    ("inigo nunez", [4003]), ("ÑU", [4003]), ("martin", [1003]), ("MARTÍN", [1003]),
    ("PENA@CORP", [1003]),  # e-mail, case aside
    ("40", [4003]), ("100", [1001, 1002, 1003]), ("4003", [4003]),  # extension prefixes
    ("%", []), ("_", []), ("garcía x", []),
])
def test_the_list_and_the_api_find_users_accents_and_case_aside(admin_client, people, term, expected):
    assert listed(admin_client, q=term) == expected
    assert from_api(admin_client, q=term) == expected


def test_a_search_costs_no_more_queries_than_the_plain_list(admin_client, people, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as plain:
        assert admin_client.get(reverse("users:sipuser_list")).status_code == 200
    with django_assert_max_num_queries(len(plain)):
        assert listed(admin_client, q="garcia") == [1001, 1002]


def test_the_sites_list_and_api_find_a_site_accents_and_case_aside(require_postgres, admin_client, sites, actor):
    site_actions.create_site(actor=actor, name="Delegación Málaga", slug="malaga", sip_domain="voip.example.test",
                             address="Calle Larios 5, Málaga", ranges=[(8000, 8999)])
    page = admin_client.get(reverse("sites:site_list"), {"q": "MALAGA"}).content.decode()
    assert "Delegación Málaga" in page and "Branch 1" not in page
    answer = admin_client.get("/api/v1/sites/", {"q": "delegacion malaga"}).json()
    assert [row["slug"] for row in answer["results"]] == ["malaga"]
    assert admin_client.get("/api/v1/sites/", {"q": "larios"}).json()["count"] == 1


EMBEDDED_SEARCH = """
import json
from django.contrib.auth.models import Group, User
from django.test import Client
from users.filtersets import SipUserFilterSet
from users.models import SipUser

alice = User.objects.create_user("search-alice", password="correct horse battery")
alice.groups.add(Group.objects.get(name="Administrator"))
client = Client()
client.force_login(alice)
found = {}
for term in ("garcia", "GARCÍA", "lucia", "DIAZ", "40", "%"):
    page = client.get("/users/", {"q": term})
    api = client.get("/api/v1/users/", {"q": term})
    filtered = SipUserFilterSet({"q": term}, queryset=SipUser.objects.all()).qs
    found[term] = {"page": page.status_code, "api": sorted(row["extension"] for row in api.json()["results"]),
                   "qs": sorted(filtered.values_list("extension", flat=True)),
                   "listed": sorted(int(x) for x in __import__("re").findall(
                       r'<td><a href="/users/[0-9]+/">([0-9]+)</a>', page.content.decode()))}
print("FOUND " + json.dumps(found))
"""


def test_the_embedded_sqlite_searches_accents_and_case_aside(embedded_db):
    """The demo estate in SQLite (a process of its own, as ``make run`` has it): the same answers."""
    env = embedded_env(embedded_db, 1)
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", EMBEDDED_SEARCH], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    found = json.loads(result.stdout.split("FOUND ", 1)[1])
    expected = {"garcia": [1001], "GARCÍA": [1001], "lucia": [8001], "DIAZ": [4002], "40": [4001, 4002, 4003],
                "%": []}
    for term, want in expected.items():
        assert found[term]["page"] == 200, term
        assert found[term]["listed"] == found[term]["api"] == found[term]["qs"] == want, (term, found[term])
