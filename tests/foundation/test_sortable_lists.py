"""Every estate list sorts by its columns' headers, both ways, whatever page it is on."""
import re

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

LISTS = [("/sites/", "name"), ("/sites/", "-time_zone"), ("/nodes/asterisk/", "site__name"),
         ("/nodes/asterisk/", "-sip_port"), ("/nodes/kamailio/", "name"), ("/services/", "-code"),
         ("/services/dispatcher-sets/", "setid"), ("/services/ddis/", "trunk__name"),
         ("/users/", "-extension"), ("/trunks/", "name")]


@pytest.fixture
def estate():
    call_command("load_demo_estate")


@pytest.mark.parametrize("path,key", LISTS)
def test_a_header_sorts_its_list(admin_client, estate, path, key):
    response = admin_client.get(path, {"sort": key})
    assert response.status_code == 200, path
    page = response.content.decode()
    bare = key.lstrip("-")
    assert re.search(rf'href="\?sort=-?{re.escape(bare)}"', page), f"{path}: no header link sorts by {bare}"
    assert response.context["sort"] == key
