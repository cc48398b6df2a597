"""A deal query built on Keepa's Deals page and exported as JSON pastes into the admin's
discovery selection unchanged, and the scan sends it to Keepa as the seller built it, bar the
page and the sort the scan needs for its watermark.

The exported query is a fixture (``fixtures/keepa_deal_query.json``) in Keepa's own export
style: numbers sent as strings, ``[-1, -1]`` for an unused range, ``null`` for an unset filter.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from deals import discovery
from deals.models import Candidate, DiscoverySelection
from deals.selection import scan_query, validate_selection
from deals.tests.keepa_support import simulator_client
from keepasim.simulator import KeepaSimulator, SimulatorConfig
from tokens.clock import FakeClock

EXPORTED = Path(__file__).parent / "fixtures" / "keepa_deal_query.json"
KEY = "selection-key-0123456789"


@pytest.fixture
def exported() -> dict:
    return json.loads(EXPORTED.read_text())


# --- what a selection may hold ------------------------------------------------------------


def test_an_exported_keepa_query_is_accepted_as_exported(exported):
    clean = validate_selection(exported)

    assert clean.keys() == exported.keys()
    assert clean["dateRange"] == 4 and clean["domainId"] == 1, "numbers as strings, as Keepa sends them"
    unchanged = {k: v for k, v in exported.items() if k not in ("dateRange", "domainId")}
    assert {k: clean[k] for k in unchanged} == unchanged


@pytest.mark.parametrize(
    "field",
    [
        {"warehouseConditions": [2, 3, 4, 5]},
        {"filterErotic": True},
        {"titleSearch": "organic chemistry"},
        {"dateRange": 4},
        {"isLowest90": True},
        {"isBackInStock": False},
        {"isRisers": False},
        {"categorySearch": "textbooks"},
        {"minRating": 35},
        {"minRating": -1},
        {"salesRankRange": [5000, -1]},
        {"author": ["Tolkien"], "binding": ["Paperback"], "languages": ["English"]},
        {"brandStoreName": ["Penguin"], "salesRankDisplayGroup": ["book_display_on_website"]},
        {"sortType": -3},
        {"domainId": "3"},
    ],
)
def test_every_field_keepa_documents_is_accepted_with_the_values_keepa_allows(field):
    assert validate_selection({"priceTypes": [2], **field}) == {
        "priceTypes": [2],
        **{k: int(v) if k == "domainId" else v for k, v in field.items()},
    }


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"dateRange": 5}, "dateRange must be 0 (day), 1 (week), 2 (month), 3 (90 days) or 4, got 5"),
        ({"warehouseConditions": [0, 6]}, "warehouseConditions may hold 1 (new) to 5 (acceptable)"),
        ({"filterErotic": "yes"}, "filterErotic must be true or false"),
        ({"titleSearch": 12}, "titleSearch must be text"),
        ({"minRating": 51}, "minRating must be -1 (off) or a rating times ten"),
        ({"sortType": -1}, "sortType must be 1 (deal age)"),
        ({"domainId": 7}, "domainId must be an Amazon locale"),
        ({"author": "Tolkien"}, "author must be a list of text values"),
        ({"page": -1}, "page must not be negative"),
        ({"salesRankRange": [5000, 10]}, "salesRankRange: min 5000 is above max 10"),
        ({"perPage": 150}, "unknown selection keys: perPage"),
        ({"warehouseCondition": [1]}, "unknown selection keys: warehouseCondition"),
    ],
)
def test_a_value_keepa_does_not_allow_or_a_field_it_does_not_know_is_refused_by_name(field, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        validate_selection({"priceTypes": [2], **field})


def test_the_scan_sends_everything_but_the_page_and_the_sort_it_needs(exported):
    query = scan_query(exported)

    assert "page" not in query, "the scan walks the pages itself"
    assert query["sortType"] == 1, "newest deal first, for the watermark"
    assert "brand" not in query and "categorySearch" not in query, "a null filter is an unset one"
    kept = {k: v for k, v in validate_selection(exported).items() if v is not None}
    del kept["page"], kept["sortType"]
    assert {k: query[k] for k in kept} == kept


# --- saving it -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_selection_that_fails_validation_can_never_be_saved_active():
    with pytest.raises(ValidationError) as refused:
        DiscoverySelection.objects.create(
            name="typo", active=True, selection={"priceTypes": [2], "dateRang": 1}
        )

    assert "unknown selection keys: dateRang" in str(refused.value.message_dict["selection"])
    assert not DiscoverySelection.objects.exists()
    parked = DiscoverySelection.objects.create(name="draft", active=False, selection={"dateRang": 1})
    parked.active = True
    with pytest.raises(ValidationError):
        parked.save()
    assert DiscoverySelection.objects.get().active is False


@pytest.mark.django_db
def test_pasting_the_export_into_the_admin_saves_it(admin_client):
    response = admin_client.post(
        reverse("admin:deals_discoveryselection_add"),
        {"name": "From Keepa", "active": "on", "selection": EXPORTED.read_text(), "_save": "Save"},
    )

    assert response.status_code == 302
    assert DiscoverySelection.objects.get().selection["warehouseConditions"] == [1, 2, 3, 4, 5]


@pytest.mark.django_db
def test_the_admin_names_the_field_keepa_does_not_know(admin_client, exported):
    response = admin_client.post(
        reverse("admin:deals_discoveryselection_add"),
        {
            "name": "From Keepa",
            "active": "on",
            "selection": json.dumps({**exported, "settings": {"viewTyp": 0}}),
            "_save": "Save",
        },
    )

    assert response.status_code == 200
    assert "unknown selection keys: settings" in str(response.context["adminform"].form.errors["selection"])
    assert not DiscoverySelection.objects.exists()


# --- end to end: the pasted query runs a scan against the simulator over HTTP ----------------


@pytest.mark.django_db
def test_a_pasted_export_runs_a_scan_that_honours_it(admin_client, exported):
    clock = FakeClock(start=datetime(2026, 11, 1, tzinfo=UTC).timestamp())
    wanted = {**exported, "titleSearch": "the", "page": 3}
    admin_client.post(
        reverse("admin:deals_discoveryselection_add"),
        {"name": "From Keepa", "active": "on", "selection": json.dumps(wanted), "_save": "Save"},
    )
    selection = discovery.active_selection()
    assert selection.name == "From Keepa"

    with KeepaSimulator(SimulatorConfig(keys={KEY: 20}, clock=clock, products=300)) as sim:
        result = discovery.scan(simulator_client(sim, clock, KEY), selection, now=clock.now())
        sent = list(sim.stats.deal_selections)
        found = Candidate.objects.values_list("asin", flat=True)
        titles = [sim.catalogue.get(asin).title.lower() for asin in found]

    assert result.completed and result.due > 0
    assert sent[0]["page"] == 0 and all(s["sortType"] == 1 for s in sent)
    assert {k: v for k, v in sent[0].items() if k not in ("page", "sortType")} == {
        k: v for k, v in scan_query(wanted).items() if k != "sortType"
    }
    assert len(titles) == result.due and all("the" in title for title in titles), "titleSearch honoured"
