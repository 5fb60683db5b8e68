"""Labels spell acronyms as the estate writes them (SIP domain, AMI host, ARI URL — not "Sip domain"), no filter
is labelled "[invalid name]", and every page writes a moment the same way: 2026-11-30 14:05:09."""
import importlib
import inspect
import re
from datetime import datetime, timezone

import django_filters
import pytest
from django import forms
from django.apps import apps
from django.core.management import call_command
from django.template import Context, Template

#: how the estate writes them; a label word that is one of these in another case is a mistake
ACRONYMS = {word.lower(): word for word in (
    "SIP", "AMI", "ARI", "URL", "URI", "IP", "NAT", "DDI", "PSTN", "ITSP", "E1", "RPC", "JSON", "CDR", "PIN", "ID",
    "HA1", "UAC", "DTMF", "ANI", "DNID", "RDNIS", "API", "CSV", "DNS", "TLS", "UDP", "TCP", "RTP")}
#: the apps whose models' labels reach the portal's forms, filters and lists
LABELLED_APPS = ("sites", "users", "trunks", "services", "cdrs", "live", "push", "voipadmin")
ALL_APPS = ("sites", "users", "trunks", "services", "cdrs", "live", "push", "voipadmin", "nodeconf", "ops")


def misspelt_acronyms(label: str) -> list[str]:
    """The words of ``label`` that are acronyms written in the wrong case ("Sip", "url", "Ids")."""
    wrong = []
    for word in re.findall(r"[A-Za-z0-9]+", label):
        singular = word[:-1] if word.endswith("s") and word[:-1].lower() in ACRONYMS else word
        right = ACRONYMS.get(singular.lower())
        if right is not None and singular != right:
            wrong.append(word)
    return wrong


def _modules(name: str):
    for app in ALL_APPS:
        try:
            yield importlib.import_module(f"{app}.{name}")
        except ModuleNotFoundError:
            continue


def _forms():
    for module in _modules("forms"):
        for name, cls in vars(module).items():
            if inspect.isclass(cls) and issubclass(cls, forms.BaseForm) and cls.__module__ == module.__name__:
                yield f"{module.__name__}.{name}", cls()


def _filtersets():
    for module in _modules("filtersets"):
        for name, cls in vars(module).items():
            if (inspect.isclass(cls) and issubclass(cls, django_filters.FilterSet) and cls.__module__ == module.__name__
                    and cls._meta.model is not None):
                yield f"{module.__name__}.{name}", cls(data={}, queryset=cls._meta.model._default_manager.none())


def test_the_acronym_check_catches_what_the_issue_saw():
    assert misspelt_acronyms("Sip domain") == ["Sip"]
    assert misspelt_acronyms("Ami host") == ["Ami"]
    assert misspelt_acronyms("Ari url") == ["Ari", "url"]
    assert misspelt_acronyms("Caller ids") == ["ids"]
    assert misspelt_acronyms("SIP domain, AMI host, ARI URL, caller IDs, voicemail PIN, E1 trunks") == []


def test_every_model_field_spells_its_acronyms():
    wrong = {}
    for app in LABELLED_APPS:
        for model in apps.get_app_config(app).get_models():
            labels = {"(model)": model._meta.verbose_name, "(models)": model._meta.verbose_name_plural}
            labels |= {f.name: f.verbose_name for f in model._meta.get_fields() if f.concrete}
            for name, label in labels.items():
                if misspelt_acronyms(str(label)):
                    wrong[f"{model._meta.label}.{name}"] = str(label)
    assert wrong == {}


def test_every_form_label_spells_its_acronyms(db):
    wrong = {f"{form_name}.{field}": form[field].label for form_name, form in _forms() for field in form.fields
             if misspelt_acronyms(str(form[field].label))}
    assert wrong == {}


def test_the_node_forms_say_sip_ami_and_ari_as_they_are_written(db):
    from sites.forms import AsteriskNodeForm, KamailioNodeForm, SiteForm

    assert SiteForm()["sip_domain"].label == "SIP domain"
    node = AsteriskNodeForm()
    assert [node[f].label for f in ("ami_host", "ari_url", "ari_username")] == ["AMI host", "ARI URL", "ARI username"]
    assert KamailioNodeForm()["jsonrpc_url"].label == "JSON-RPC URL"


def test_no_filter_is_labelled_invalid_name_and_every_filter_spells_its_acronyms(db):
    labels = {f"{name}.{field}": str(filterset.form[field].label)
              for name, filterset in _filtersets() for field in filterset.form.fields}
    assert len(labels) > 30
    assert [key for key, label in labels.items() if "[invalid name]" in label] == []
    assert {key: label for key, label in labels.items() if misspelt_acronyms(label)} == {}
    assert labels["sites.filtersets.AsteriskNodeFilterSet.role"] == "Role"


# --- one way to write a moment ------------------------------------------------------------------------------------

MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
OTHER_STYLES = re.compile(
    r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.? \d{1,2}, \d{4}"  # Nov. 30, 2026
    r"|\b\d{1,2}(?::\d{2})? ?[ap]\.m\."  # 2:05 p.m.
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b")  # 11/30/2026


def _text(html: str) -> str:
    """What a reader sees: no tags, attributes (an input's value), scripts or styles."""
    html = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", html)
    return re.sub(r"(?s)<[^>]*>", " ", html)


def test_the_portal_writes_a_moment_as_year_month_day_and_24_hour_time():
    moment = datetime(2026, 11, 30, 14, 5, 9, tzinfo=timezone.utc)
    rendered = Template('{{ m }}|{{ m|date:"DATETIME_FORMAT" }}|{{ m|date:"SHORT_DATETIME_FORMAT" }}|{{ m|date }}'
                        "|{{ m|time }}").render(Context({"m": moment}))
    assert rendered == "2026-11-30 14:05:09 UTC|2026-11-30 14:05:09 UTC|2026-11-30 14:05:09 UTC|2026-11-30|14:05:09"


@pytest.fixture
def estate(db):
    call_command("load_demo_estate")


def test_the_pages_write_every_moment_the_same_way(admin_client, estate):
    from cdrs.models import Cdr
    from sites.models import AsteriskNode, Site
    from users.models import SipUser

    Cdr.objects.create(src="1001", dst="1002", dcontext="site-central", start=datetime(2026, 11, 30, 14, 5, 9),
                       answer=datetime(2026, 11, 30, 14, 5, 12), end=datetime(2026, 11, 30, 14, 6, 0), duration=51,
                       billsec=48, disposition="ANSWERED", uniqueid="1764511509.1", linkedid="1764511509.1")
    site, node, user = Site.objects.get(slug="central"), AsteriskNode.objects.first(), SipUser.objects.first()
    pages = ["/audit/", "/push/jobs/", "/cdrs/", "/sites/", f"/sites/{site.pk}/", "/nodes/asterisk/",
             f"/nodes/asterisk/{node.pk}/", "/users/", f"/users/{user.pk}/", "/trunks/all/", "/services/codes/",
             "/live/registrations/", "/live/calls/"]
    seen, odd = {}, {}
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        text = _text(response.content.decode())
        seen[url] = MOMENT.findall(text)
        odd[url] = OTHER_STYLES.findall(text) + [m for m in seen[url]
                                                 if not re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", m)]
    assert {url: found for url, found in odd.items() if found} == {}
    assert seen["/audit/"] and seen["/cdrs/"] and seen[f"/sites/{site.pk}/"]  # (the check saw moments)
