"""``object_url`` is ``reverse(name, args=[pk])``, only quicker: the same address, under any mount point."""
import pytest
from django.urls import clear_script_prefix, reverse, set_script_prefix

from voipadmin.paths import object_url

NAMES = ["sites:site_detail", "sites:asterisknode_detail", "sites:kamailionode_detail", "users:sipuser_detail",
         "trunks:e1trunk_detail", "trunks:itsptrunk_detail", "trunks:outboundroute_detail",
         "services:dispatcherset_detail", "services:servicecode_detail", "services:inboundnumber_detail",
         "push:pushjob_detail", "media:conferenceroom_detail", "media:ivrmenu_detail", "media:agiapplication_detail",
         "media:conferenceprofile_detail", "media:announcement_detail"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("pk", [1, 42, 9_999_999_999])
def test_it_gives_what_reverse_gives(name, pk):
    assert object_url(name, pk) == reverse(name, args=[pk])


def test_it_follows_the_mount_point():
    try:
        set_script_prefix("/voip/")
        assert object_url("users:sipuser_detail", 7) == reverse("users:sipuser_detail", args=[7]) == "/voip/users/7/"
    finally:
        clear_script_prefix()
    assert object_url("users:sipuser_detail", 7) == "/users/7/"
