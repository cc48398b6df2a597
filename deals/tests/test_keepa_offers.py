"""Parsing of Keepa's offers, used buy box, offer counts and sellers: tables of every bad input
the verification issue names (missing, -1, -2, wrong type, inconsistent, seller not found), and
properties that arbitrary JSON never raises and never yields a price Keepa did not state.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deals.keepa.facts import datetime_to_keepa_minutes
from deals.keepa.offers import Offer, UsedBuyBox, parse_offers, parse_seller, parse_sellers

NOW = datetime(2025, 10, 1, tzinfo=UTC)
T = datetime_to_keepa_minutes(NOW)
MISSING = object()


def offer(**fields):
    """A Keepa offer object: a merchant-fulfilled "Used - Good" copy at $12.50 + $3.99,
    listed a day ago at $10.00; ``MISSING`` drops a field."""
    raw = {
        "offerId": 7,
        "sellerId": "A1SELLER",
        "condition": 4,
        "isFBA": False,
        "isPrime": False,
        "isAmazon": False,
        "lastSeen": T,
        "offerCSV": [T - 24 * 60, 1000, 399, T, 1250, 399],
    }
    raw.update(fields)
    return {k: v for k, v in raw.items() if v is not MISSING}


def offer_stats(**fields):
    raw = {
        "totalOfferCount": 31,
        "retrievedOfferCount": 20,
        "offerCountFBA": 4,
        "offerCountFBM": 16,
        "lastOffersUpdate": T - 5,
        "buyBoxUsedPrice": 1250,
        "buyBoxUsedShipping": 399,
        "buyBoxUsedCondition": 4,
        "buyBoxUsedSellerId": "A1SELLER",
        "buyBoxUsedIsFBA": False,
    }
    raw.update(fields)
    return {k: v for k, v in raw.items() if v is not MISSING}


def product(offers, live=MISSING, stats=MISSING):
    raw = {"asin": "0000000001", "offers": offers, "stats": offer_stats() if stats is MISSING else stats}
    if live is MISSING:
        live = list(range(len(offers))) if isinstance(offers, list) else None
    raw["liveOffersOrder"] = live
    return raw


def only_offer(**fields) -> tuple[Offer | None, tuple[str, ...]]:
    parsed = parse_offers(product([offer(**fields)]))
    return (parsed.offers[0] if parsed.offers else None), parsed.problems


# --- offers -------------------------------------------------------------------------------


def test_live_offers_in_keepas_order_with_their_latest_triple():
    raw = product(
        [
            offer(),
            offer(sellerId="AOLD", offerCSV=[T - 9000, 500, 0]),
            offer(sellerId="AFBA", condition=2, isFBA=True, isPrime=True, offerCSV=[T - 60, 1400, 0]),
            offer(sellerId="ATVPDKIKX0DER", condition=1, isAmazon=True, isPrime=True, offerCSV=[T, 2000, 0]),
        ],
        live=[2, 0, 3],
    )

    parsed = parse_offers(raw)

    assert parsed.problems == ()
    assert parsed.asin == "0000000001"
    assert [o.seller_id for o in parsed.offers] == ["AFBA", "A1SELLER", "ATVPDKIKX0DER"]
    fba, merchant, amazon = parsed.offers
    assert merchant == Offer(
        offer_id=7,
        seller_id="A1SELLER",
        condition=4,
        is_fba=False,
        is_prime=False,
        is_amazon=False,
        priced_at=NOW,
        price_cents=1250,
        shipping_cents=399,
        shippable=True,
        last_seen=NOW,
    )
    assert merchant.condition_name == "Used - Good" and merchant.total_cents == 1649
    assert fba.condition_name == "Used - Like New" and fba.total_cents == 1400
    assert fba.priced_at == NOW - timedelta(hours=1)
    assert amazon.condition_name == "New" and amazon.is_amazon and not amazon.is_used
    assert parsed.live_used_offers == 2


@pytest.mark.parametrize(
    ("fields", "price", "shipping", "shippable", "total"),
    [
        ({}, 1250, 399, True, 1649),
        ({"offerCSV": [T, 1250, 0]}, 1250, 0, True, 1250),
        ({"offerCSV": [T, -1, 399]}, None, 399, True, None),  # no offer now
        ({"offerCSV": [T, -2, 399]}, None, 399, True, None),  # price unknown
        ({"offerCSV": [T, 1250, -1]}, 1250, None, False, None),  # not shippable
        ({"offerCSV": [T, 1250, -2]}, 1250, None, True, None),  # shipping unknown, merchant ships
        ({"offerCSV": [T, 1250, -2], "isFBA": True}, 1250, None, True, 1250),  # FBA adds none
        ({"offerCSV": [T, 1250, 399], "isFBA": True}, 1250, 399, True, 1250),
        ({"offerCSV": [T, 1250, -1], "isFBA": True}, 1250, None, False, None),
        ({"offerCSV": [T - 60, 900, 0, T, -1, -1]}, None, None, False, None),  # sold: latest wins
        ({"isShippable": False}, 1250, 399, False, None),
        ({"isShippable": False, "isFBA": True}, 1250, 399, False, None),
        ({"isShippable": True}, 1250, 399, True, 1649),
    ],
)
def test_the_buy_price_is_only_ever_one_keepa_stated(fields, price, shipping, shippable, total):
    parsed, problems = only_offer(**fields)

    assert problems == ()
    assert (parsed.price_cents, parsed.shipping_cents, parsed.shippable) == (price, shipping, shippable)
    assert parsed.total_cents == total
    assert parsed.is_buyable == (total is not None)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"sellerId": MISSING}, "offers[0] has no sellerId"),
        ({"sellerId": ""}, "offers[0] has no sellerId"),
        ({"sellerId": 123}, "offers[0] has no sellerId"),
        ({"condition": MISSING}, "condition None is not 1-10"),
        ({"condition": 0}, "condition 0 is not 1-10"),
        ({"condition": 11}, "condition 11 is not 1-10"),
        ({"condition": "4"}, "condition '4' is not 1-10"),
        ({"condition": True}, "condition True is not 1-10"),
        ({"offerCSV": MISSING}, "offerCSV is not a list"),
        ({"offerCSV": None}, "offerCSV is not a list"),
        ({"offerCSV": []}, "offerCSV is not a list"),
        ({"offerCSV": [T, 1250]}, "offerCSV is not a list"),
        ({"offerCSV": [T - 60, 900, 0, T]}, "offerCSV is not a list"),
        ({"offerCSV": [T, "1250", 399]}, "offerCSV is not a list"),
        ({"offerCSV": [T, 12.5, 399]}, "offerCSV is not a list"),
        ({"offerCSV": [T, True, 399]}, "offerCSV is not a list"),
        ({"offerCSV": [0, 1250, 399]}, "offerCSV time 0 is not a Keepa time"),
        ({"offerCSV": [-5, 1250, 399]}, "offerCSV time -5 is not a Keepa time"),
        ({"offerCSV": [T, 0, 399]}, "price 0 is neither a price nor -1/-2"),
        ({"offerCSV": [T, -3, 399]}, "price -3 is neither a price nor -1/-2"),
        ({"offerCSV": [T, 1250, -3]}, "shipping -3 is neither a cost nor -1/-2"),
    ],
)
def test_an_offer_that_cannot_be_read_is_excluded_with_the_reason(fields, problem):
    parsed, problems = only_offer(**fields)

    assert parsed is None
    assert len(problems) == 1 and problem in problems[0] and problems[0].endswith("excluded")


def test_a_non_boolean_flag_is_false_and_said_so():
    parsed, problems = only_offer(isFBA="yes", isPrime=1, isAmazon=MISSING)

    assert (parsed.is_fba, parsed.is_prime, parsed.is_amazon) == (False, False, False)
    assert parsed.total_cents == 1649, "not FBA: the shipping is added, the dearer reading"
    assert problems == (
        "offers[0] isFBA 'yes' is not a boolean; taken as false",
        "offers[0] isPrime 1 is not a boolean; taken as false",
    )


def test_a_non_boolean_is_shippable_is_not_shippable():
    parsed, problems = only_offer(isShippable="yes")

    assert not parsed.shippable and parsed.total_cents is None
    assert problems == ("offers[0] isShippable 'yes' is not a boolean; taken as false",)


def test_optional_fields_of_an_offer():
    parsed, problems = only_offer(lastSeen=MISSING, offerId="x")
    assert (parsed.last_seen, parsed.offer_id, problems) == (None, None, ())

    parsed, problems = only_offer(lastSeen="yesterday")
    assert parsed.last_seen is None and problems == ("offers[0] lastSeen 'yesterday' is not a Keepa time",)


def test_an_entry_that_is_not_an_object_is_excluded():
    parsed = parse_offers(product([offer(), "offer", None]))

    assert [o.seller_id for o in parsed.offers] == ["A1SELLER"]
    assert parsed.problems == (
        "offers[1] is not an object; excluded",
        "offers[2] is not an object; excluded",
    )


@pytest.mark.parametrize(
    ("live", "sellers", "problems"),
    [
        ([1, 0], ["B", "A"], ()),
        ([], [], ()),
        (MISSING, ["A", "B"], ()),  # the helper's default: every index
        (None, ["A", "B"], ("no liveOffersOrder: every offer taken as live",)),
        ("0,1", [], ("liveOffersOrder is not a list: no offer taken as live",)),
        ({"0": 1}, [], ("liveOffersOrder is not a list: no offer taken as live",)),
        ([0, 2], ["A"], ("liveOffersOrder entry 2 is not an offer index",)),
        ([-1, 1], ["B"], ("liveOffersOrder entry -1 is not an offer index",)),
        ([True, 1], ["B"], ("liveOffersOrder entry True is not an offer index",)),
        (["0", 1], ["B"], ("liveOffersOrder entry '0' is not an offer index",)),
        ([1, 0, 1], ["B", "A"], ()),  # a cheaper duplicate standing for a dearer one: once
    ],
)
def test_live_offers_order_decides_which_offers_are_live(live, sellers, problems):
    parsed = parse_offers(product([offer(sellerId="A"), offer(sellerId="B")], live=live))

    assert [o.seller_id for o in parsed.offers] == sellers
    assert parsed.problems == problems


def test_a_live_index_pointing_at_an_unreadable_offer_adds_nothing():
    parsed = parse_offers(product([offer(condition=0), offer(sellerId="B")], live=[0, 1]))

    assert [o.seller_id for o in parsed.offers] == ["B"]
    assert len(parsed.problems) == 1


@pytest.mark.parametrize(
    ("offers", "problem"),
    [
        (None, "no offers array (were offers asked for?)"),
        ({"0": {}}, "offers is not a list"),
        ("[]", "offers is not a list"),
    ],
)
def test_a_product_without_an_offers_array_has_no_offers(offers, problem):
    raw = product(offers, live=None)

    parsed = parse_offers(raw)

    assert parsed.offers == () and parsed.live_used_offers == 0
    assert parsed.problems == (problem,)


@pytest.mark.parametrize(
    ("fetched", "problem"),
    [
        (True, None),
        (MISSING, None),
        (False, "offersSuccessful is False: Keepa could not fetch the offers; none is live"),
        (None, "offersSuccessful is None: Keepa could not fetch the offers; none is live"),
        ("true", "offersSuccessful is 'true': Keepa could not fetch the offers; none is live"),
    ],
)
def test_offers_keepa_could_not_fetch_are_not_live(fetched, problem):
    raw = product([offer()])
    if fetched is not MISSING:
        raw["offersSuccessful"] = fetched

    parsed = parse_offers(raw)

    assert len(parsed.offers) == (0 if problem else 1)
    assert parsed.problems == ((problem,) if problem else ())


def test_live_used_offers_counts_conditions_2_to_5_only():
    conditions = [1, 2, 3, 4, 5, 6, 7, 10]
    parsed = parse_offers(product([offer(sellerId=f"A{c}", condition=c) for c in conditions]))

    assert parsed.live_used_offers == 4
    assert [o.is_used for o in parsed.offers] == [c in (2, 3, 4, 5) for c in conditions]


@pytest.mark.parametrize("raw", [None, [], "product", 42])
def test_a_product_that_is_not_an_object(raw):
    parsed = parse_offers(raw)

    assert parsed.offers == () and parsed.used_buy_box is None and parsed.asin is None
    assert len(parsed.problems) == 1 and "not a JSON object" in parsed.problems[0]


# --- the stats that only come with offers -------------------------------------------------


def test_offer_counts_from_stats():
    stats = parse_offers(product([])).stats

    assert stats.total_offer_count == 31 and stats.retrieved_offer_count == 20
    assert (stats.offer_count_fba, stats.offer_count_fbm) == (4, 16)
    assert stats.last_offers_update == NOW - timedelta(minutes=5)


@pytest.mark.parametrize(
    ("value", "problems"),
    [
        (0, ()),
        (MISSING, ()),
        (-1, ()),  # no data
        (-2, ("stats.offerCountFBA is -2: Keepa had no offers for it",)),
        ("4", ("stats.offerCountFBA '4' is not a count",)),
        (4.0, ("stats.offerCountFBA 4.0 is not a count",)),
        (-7, ("stats.offerCountFBA -7 is not a count",)),
    ],
)
def test_an_offer_count_is_a_count_or_none(value, problems):
    parsed = parse_offers(product([], stats=offer_stats(offerCountFBA=value)))

    assert parsed.stats.offer_count_fba == (0 if value == 0 else None)
    assert parsed.problems == problems


@pytest.mark.parametrize(
    ("stats", "problem"),
    [
        (None, "no stats: offer counts and the used buy box are unknown"),
        ([1, 2], "stats is not an object"),
    ],
)
def test_without_stats_counts_and_buy_box_are_unknown(stats, problem):
    parsed = parse_offers(product([offer()], stats=stats))

    assert parsed.stats.offer_count_fba is None and parsed.used_buy_box is None
    assert len(parsed.offers) == 1 and parsed.problems == (problem,)


# --- the used buy box ---------------------------------------------------------------------


def test_the_used_buy_box():
    box = parse_offers(product([])).used_buy_box

    assert box == UsedBuyBox(
        price_cents=1250, shipping_cents=399, condition=4, seller_id="A1SELLER", is_fba=False
    )
    assert box.total_cents == 1649


@pytest.mark.parametrize(
    ("fields", "box", "problems"),
    [
        ({"buyBoxUsedPrice": MISSING}, None, ()),
        ({"buyBoxUsedPrice": None}, None, ()),
        ({"buyBoxUsedPrice": -1}, None, ()),
        ({"buyBoxUsedPrice": -2}, None, ()),
        ({"buyBoxUsedPrice": 0}, None, ("stats.buyBoxUsedPrice 0 is not a price; no used buy box",)),
        (
            {"buyBoxUsedPrice": "1250"},
            None,
            ("stats.buyBoxUsedPrice '1250' is not a price; no used buy box",),
        ),
        ({"buyBoxUsedPrice": True}, None, ("stats.buyBoxUsedPrice True is not a price; no used buy box",)),
        ({"buyBoxUsedShipping": -1}, UsedBuyBox(1250, None, 4, "A1SELLER", False), ()),
        ({"buyBoxUsedShipping": -2}, UsedBuyBox(1250, None, 4, "A1SELLER", False), ()),
        ({"buyBoxUsedShipping": MISSING}, UsedBuyBox(1250, None, 4, "A1SELLER", False), ()),
        (
            {"buyBoxUsedShipping": "free"},
            UsedBuyBox(1250, None, 4, "A1SELLER", False),
            ("stats.buyBoxUsedShipping 'free' is not a cost",),
        ),
        (
            {"buyBoxUsedShipping": -1, "buyBoxUsedIsFBA": True},
            UsedBuyBox(1250, None, 4, "A1SELLER", True),
            (),
        ),
        (
            {"buyBoxUsedCondition": 1},
            UsedBuyBox(1250, 399, None, "A1SELLER", False),
            ("stats.buyBoxUsedCondition 1 is not a used condition (2-5)",),
        ),
        ({"buyBoxUsedCondition": MISSING}, UsedBuyBox(1250, 399, None, "A1SELLER", False), ()),
        (
            {"buyBoxUsedSellerId": MISSING},
            UsedBuyBox(1250, 399, 4, None, False),
            ("the used buy box has no seller id",),
        ),
        (
            {"buyBoxUsedSellerId": "-2"},
            UsedBuyBox(1250, 399, 4, None, False),
            ("the used buy box has no seller id",),
        ),
        (
            {"buyBoxUsedIsFBA": "true"},
            UsedBuyBox(1250, 399, 4, "A1SELLER", None),
            ("stats.buyBoxUsedIsFBA 'true' is not a boolean",),
        ),
    ],
)
def test_the_used_buy_box_fields_missing_or_marked(fields, box, problems):
    parsed = parse_offers(product([], stats=offer_stats(**fields)))

    assert parsed.used_buy_box == box
    assert parsed.problems == problems


@pytest.mark.parametrize(
    ("box", "total"),
    [
        (UsedBuyBox(1250, 399, 4, "A", False), 1649),
        (UsedBuyBox(1250, None, 4, "A", False), None),
        (UsedBuyBox(1250, None, 4, "A", None), None),
        (UsedBuyBox(1250, 399, 4, "A", True), 1250),
        (UsedBuyBox(1250, None, 4, "A", True), 1250),
    ],
)
def test_the_used_buy_box_total_needs_a_known_shipping_unless_fba(box, total):
    assert box.total_cents == total


# --- sellers ------------------------------------------------------------------------------


def seller(**fields):
    raw = {
        "sellerId": "A1SELLER",
        "sellerName": "Good Books Co",
        "currentRating": 97,
        "currentRatingCount": 1532,
        "ratingCount": [12, 40, 310, 1532],
    }
    raw.update(fields)
    return {k: v for k, v in raw.items() if v is not MISSING}


def test_a_seller():
    parsed = parse_seller("A1SELLER", seller())

    assert (parsed.seller_id, parsed.name, parsed.rating_percent, parsed.rating_count) == (
        "A1SELLER",
        "Good Books Co",
        97,
        1532,
    )
    assert parsed.problems == ()


@pytest.mark.parametrize(
    ("fields", "rating", "count", "problem"),
    [
        ({"currentRating": 0}, 0, 1532, None),
        ({"currentRating": 100}, 100, 1532, None),
        ({"currentRating": MISSING}, None, 1532, "no currentRating"),
        ({"currentRating": -1}, None, 1532, "no rating yet (currentRating -1)"),
        ({"currentRating": -5}, None, 1532, "currentRating -5 is not a percent 0-100"),
        ({"currentRating": 101}, None, 1532, "currentRating 101 is not a percent 0-100"),
        ({"currentRating": 97.5}, None, 1532, "currentRating 97.5 is not a percent 0-100"),
        ({"currentRating": "97"}, None, 1532, "currentRating '97' is not a percent 0-100"),
        ({"currentRating": True}, None, 1532, "currentRating True is not a percent 0-100"),
        ({"currentRatingCount": MISSING}, 97, None, "no currentRatingCount"),
        ({"currentRatingCount": -1}, 97, None, "currentRatingCount -1 is not a count"),
        ({"currentRatingCount": "1532"}, 97, None, "currentRatingCount '1532' is not a count"),
        ({"currentRatingCount": 0}, None, 0, "a rating of 97% from no ratings; rating dropped"),
        ({"currentRatingCount": 0, "currentRating": -1}, None, 0, "no rating yet (currentRating -1)"),
    ],
)
def test_a_seller_rating_is_a_percent_and_a_count_or_none(fields, rating, count, problem):
    parsed = parse_seller("A1SELLER", seller(**fields))

    assert (parsed.rating_percent, parsed.rating_count) == (rating, count)
    assert parsed.problems == ((problem,) if problem else ())


@pytest.mark.parametrize(
    ("fields", "name", "problem"),
    [
        ({"sellerName": MISSING}, None, "no seller name"),
        ({"sellerName": "  "}, None, "no seller name"),
        ({"sellerName": 7}, None, "no seller name"),
        ({"sellerId": "AOTHER"}, "Good Books Co", "sellerId 'AOTHER' differs from its key; the key is kept"),
        ({"sellerId": MISSING}, "Good Books Co", None),
    ],
)
def test_a_seller_name_and_id(fields, name, problem):
    parsed = parse_seller("A1SELLER", seller(**fields))

    assert parsed.seller_id == "A1SELLER" and parsed.name == name
    assert parsed.problems == ((problem,) if problem else ())


def test_sellers_by_id_and_an_unknown_seller_is_simply_absent():
    sellers, problems = parse_sellers(
        {"A1SELLER": seller(), "A2": seller(sellerId="A2", sellerName="Second"), "AUNKNOWN": None}
    )

    assert sorted(sellers) == ["A1SELLER", "A2"] and sellers["A2"].name == "Second"
    assert problems == []


@pytest.mark.parametrize(
    ("raw", "found", "problems"),
    [
        (None, [], []),
        ({}, [], []),
        ([seller()], [], ["sellers is not an object (list)"]),
        ("A1SELLER", [], ["sellers is not an object (str)"]),
        (
            {"A1SELLER": "seller"},
            [],
            ["sellers entry 'A1SELLER' is not a seller id with a seller object; skipped"],
        ),
        ({"": seller()}, [], ["sellers entry '' is not a seller id with a seller object; skipped"]),
    ],
)
def test_a_sellers_map_that_is_not_one(raw, found, problems):
    sellers, seen = parse_sellers(raw)

    assert sorted(sellers) == found and seen == problems


# --- properties ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=6),
    max_leaves=30,
)
keepa_ints = st.one_of(st.sampled_from([-2, -1, 0, 1, T]), st.integers(-5, 50_000_000))


triples = st.lists(
    st.tuples(
        st.sampled_from([T - 60, T, 0]),
        st.sampled_from([-3, -2, -1, 0, 1250]),
        st.sampled_from([-3, -2, -1, 0, 399]),
    ),
    min_size=1,
    max_size=3,
).map(lambda points: [value for point in points for value in point])
# Keepa's shape with its markers (-1, -2, 0, unknown conditions, false flags): the prices are
# where a guess could slip in, so these reach the price logic every time.
keepa_offer = st.fixed_dictionaries(
    {
        "sellerId": st.sampled_from(["A1", "A2", "ATVPDKIKX0DER"]),
        "condition": st.integers(0, 11),
        "offerCSV": triples,
        "isFBA": st.booleans(),
        "isShippable": st.booleans(),
    },
    optional={"isPrime": st.booleans(), "isAmazon": st.booleans(), "lastSeen": keepa_ints},
)
# Anything at all in any field: only "never raises" and the invariants can be asked of it.
offer_like = st.fixed_dictionaries(
    {},
    optional={
        name: st.one_of(keepa_ints, triples, json_values)
        for name in ("offerId", "sellerId", "condition", "isFBA", "isShippable", "lastSeen", "offerCSV")
    },
)
stats_like = st.dictionaries(
    st.sampled_from(
        [
            "totalOfferCount",
            "retrievedOfferCount",
            "offerCountFBA",
            "offerCountFBM",
            "lastOffersUpdate",
            "buyBoxUsedPrice",
            "buyBoxUsedShipping",
            "buyBoxUsedCondition",
            "buyBoxUsedSellerId",
            "buyBoxUsedIsFBA",
        ]
    ),
    st.one_of(keepa_ints, st.booleans(), st.sampled_from(["A1", "-2"]), json_values),
)
product_like = st.fixed_dictionaries(
    {},
    optional={
        "asin": st.one_of(st.text(max_size=12), json_values),
        "offers": st.one_of(
            st.lists(st.one_of(keepa_offer, offer_like, json_values), max_size=6), json_values
        ),
        "liveOffersOrder": st.one_of(st.lists(st.integers(-1, 6), max_size=8), json_values),
        "offersSuccessful": st.one_of(st.booleans(), json_values),
        "stats": st.one_of(stats_like, json_values),
    },
)


def assert_only_stated_prices(parsed):
    assert all(isinstance(p, str) and p for p in parsed.problems)
    for found in parsed.offers:
        assert found.condition_name
        total = found.total_cents
        assert found.is_buyable == (total is not None)
        if total is not None:
            assert type(total) is int and total > 0 and found.shippable
            assert total == found.price_cents + (0 if found.is_fba else found.shipping_cents)
    assert 0 <= parsed.live_used_offers <= len(parsed.offers)
    box = parsed.used_buy_box
    if box is not None:
        assert type(box.price_cents) is int and box.price_cents > 0
        assert box.total_cents is None or box.total_cents >= box.price_cents
        assert box.condition in (None, 2, 3, 4, 5)
    for count in vars(parsed.stats).values():
        assert count is None or not isinstance(count, int) or count >= 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, product_like))
def test_any_json_yields_offers_whose_prices_keepa_stated(raw):
    assert_only_stated_prices(parse_offers(raw))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(keepa_offer, max_size=6), st.one_of(st.none(), st.lists(st.integers(0, 5), max_size=8)))
def test_keepa_shaped_offers_with_any_markers_match_a_reference_reading(offers, live):
    parsed = parse_offers(product(offers, live=live))

    assert_only_stated_prices(parsed)
    order = range(len(offers)) if live is None else dict.fromkeys(i for i in live if i < len(offers))
    expected = []
    for raw in (offers[i] for i in order):
        minute, price, shipping = raw["offerCSV"][-3:]
        if not 1 <= raw["condition"] <= 10 or minute == 0 or price in (-3, 0) or shipping == -3:
            continue  # unreadable: excluded
        ships = shipping != -1 and raw["isShippable"]
        known = price > 0 and ships and (raw["isFBA"] or shipping >= 0)
        total = price + (0 if raw["isFBA"] else shipping) if known else None
        expected.append((raw["sellerId"], raw["condition"], total))
    assert [(o.seller_id, o.condition, o.total_cents) for o in parsed.offers] == expected


seller_like = st.fixed_dictionaries(
    {},
    optional={
        "sellerId": st.one_of(st.text(max_size=14), json_values),
        "sellerName": st.one_of(st.text(max_size=8), json_values),
        "currentRating": st.one_of(st.integers(-3, 103), json_values),
        "currentRatingCount": st.one_of(st.integers(-3, 10**6), json_values),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, st.dictionaries(st.text(max_size=14), st.one_of(seller_like, json_values))))
def test_any_json_yields_sellers_with_sane_ratings(raw):
    sellers, problems = parse_sellers(raw)

    assert all(isinstance(p, str) and p for p in problems)
    for seller_id, found in sellers.items():
        assert found.seller_id == seller_id and seller_id
        assert found.rating_percent is None or 0 <= found.rating_percent <= 100
        assert found.rating_count is None or found.rating_count >= 0
        assert all(isinstance(p, str) and p for p in found.problems)
