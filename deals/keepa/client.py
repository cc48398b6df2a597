"""The HTTP client production uses to talk to Keepa (and tests use against the simulator).

Every call follows one flow: estimate the cost, ``bucket.reserve`` it (a refusal raises
``NotEnoughTokens`` without touching the network), send, then always ``bucket.settle`` with
the token reading of the response (``None`` when no parseable envelope came back). 5xx,
timeouts and dropped connections are retried here with bounded exponential backoff and
jitter (each attempt reserving and settling again). A cut-off (invalid JSON) answer is
transient too, but Keepa charged it, so the caller's backoff retries it, not this loop; a 429
is not retried here either, because the caller should hand its worker back and re-enqueue
after ``wait_seconds``.

The key travels in the query string, so nothing here ever logs or raises a URL; exception
text from ``requests`` is passed through ``redact`` and never chained.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
import tenacity
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from deals.keepa.errors import (
    InvalidParameter,
    KeepaError,
    MalformedResponse,
    NotEnoughTokens,
    NotFound,
    PaymentRequired,
    TransientError,
    TruncatedResponse,
)
from deals.keepa.facts import (
    BUYBOX_COST,
    DEAL_PAGE_COST,
    FRESH_UPDATE_COST,
    MAX_ASINS_PER_CALL,
    MAX_OFFERS,
    MAX_SELLERS_PER_CALL,
    MIN_OFFERS,
    OFFERS_PAGE_COST,
    OFFERS_PAGE_SIZE,
    RATING_COST,
    SELLER_COST,
)
from deals.keepa.offers import Seller, parse_sellers
from deals.keepa.redaction import install_library_log_filters, redact
from tokens.clock import Clock, get_clock
from tokens.interface import Grant, MalformedReading, Refusal, TokenBucket, TokenReading, UnlimitedBucket

logger = logging.getLogger(__name__)

# Used when a 429 carries no readable envelope: one refill period.
FALLBACK_WAIT_SECONDS = 60.0
# What ``_decode`` says of a body that does not parse: an answer cut off on the way.
NOT_JSON = "body is not valid JSON"
# A seller id holding one of these would split into several ids in the query.
_SEPARATOR = re.compile(r"[,\s]")


def _retry_at_once(error: BaseException) -> bool:
    """Keepa's trouble that cost nothing: a cut-off answer was charged, so it waits for the
    caller's backoff instead."""
    return isinstance(error, TransientError) and not isinstance(error, TruncatedResponse)


def _is_int(value: Any) -> bool:
    return type(value) is int


@dataclass(frozen=True)
class ProductsResponse:
    products: list[dict]
    reading: TokenReading


@dataclass(frozen=True)
class DealsResponse:
    deals: list[dict]
    reading: TokenReading
    total: int | None = None  # deals the whole query matched (categoryCount summed), if given


@dataclass(frozen=True)
class SellersResponse:
    sellers: dict[str, Seller]  # by id; an id Keepa does not know is absent
    reading: TokenReading
    problems: tuple[str, ...] = ()  # entries of the response that were not seller objects


def matched_total(deals: Mapping[str, Any]) -> int | None:
    """How many deals the query matched in all: Keepa counts them per root category."""
    counts = deals.get("categoryCount")
    if not isinstance(counts, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts
    ):
        return None
    return sum(counts)


def estimate_product_cost(
    asin_count: int,
    *,
    offers: int | None = None,
    buybox: bool = False,
    update: int | None = None,
    rating: bool = False,
) -> int:
    """Upper bound of what a /product call costs (``facts``): Keepa charges per product
    *returned*, per offer page *found* (6 per page of up to 10, replacing the 1 per product;
    ``buybox`` is then free) and ``rating`` only when its data is stale, so the real charge
    can only be lower."""
    per_product = OFFERS_PAGE_COST * math.ceil(offers / OFFERS_PAGE_SIZE) if offers else 1
    if buybox and not offers:
        per_product += BUYBOX_COST
    if update == 0:
        per_product += FRESH_UPDATE_COST
    if rating:
        per_product += RATING_COST
    return asin_count * per_product


def seconds_until_positive(reading: TokenReading, now: float) -> float:
    """Clock seconds until Keepa's balance is above zero again, from one envelope.

    Refills of ``refill_rate`` tokens arrive at ``timestamp + refillIn`` and every 60 s
    after; a balance of ``b <= 0`` needs ``floor(-b / rate) + 1`` of them.
    """
    if reading.tokens_left > 0:
        return 0.0
    if reading.refill_rate <= 0:
        return FALLBACK_WAIT_SECONDS
    refills_needed = (-reading.tokens_left) // reading.refill_rate + 1
    first_refill = (reading.timestamp_ms + reading.refill_in_ms) / 1000.0
    return max(0.0, first_refill + (refills_needed - 1) * 60.0 - now)


class KeepaClient:
    def __init__(
        self,
        api_key: str,
        *,
        base_url: str,
        bucket: TokenBucket | None = None,
        clock: Clock | None = None,
        domain_id: int = 1,
        connect_timeout: float,
        read_timeout: float,
        max_attempts: int = 4,
        session: requests.Session | None = None,
    ):
        if not api_key:
            raise ValueError("a Keepa API key is required")
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.bucket: TokenBucket = bucket if bucket is not None else UnlimitedBucket()
        self.clock = clock if clock is not None else get_clock()
        self.domain_id = domain_id
        self.timeout = (connect_timeout, read_timeout)
        self.max_attempts = max(1, max_attempts)
        self.session = session if session is not None else requests.Session()
        self.session.headers["Accept-Encoding"] = "gzip"
        install_library_log_filters()

    def with_bucket(self, bucket: TokenBucket) -> KeepaClient:
        """The same client (session, key, timeouts) paying through another bucket."""
        twin = copy.copy(self)
        twin.bucket = bucket
        return twin

    @classmethod
    def from_settings(cls, bucket: TokenBucket | None = None) -> KeepaClient:
        if not settings.KEEPA_API_KEY:
            raise ImproperlyConfigured("KEEPA_API_KEY is not set")
        return cls(
            settings.KEEPA_API_KEY,
            base_url=settings.KEEPA_BASE_URL,
            bucket=bucket,
            domain_id=settings.KEEPA_DOMAIN_ID,
            connect_timeout=settings.KEEPA_CONNECT_TIMEOUT_SECONDS,
            read_timeout=settings.KEEPA_READ_TIMEOUT_SECONDS,
        )

    def __repr__(self) -> str:
        return f"KeepaClient(base_url={self.base_url!r}, domain_id={self.domain_id})"

    # --- endpoints -------------------------------------------------------------------

    def token_status(self) -> TokenReading:
        """Free: the balance as Keepa sees it. Settles the bucket without a reservation."""
        _body, reading = self._call("token", {}, cost=0)
        return reading

    def products(
        self,
        asins: Sequence[str],
        *,
        stats: int | None = 365,
        history: bool = True,
        days: int | None = None,
        offers: int | None = None,
        only_live_offers: bool = False,
        buybox: bool = False,
        rating: bool = False,
        update: int | None = None,
    ) -> ProductsResponse:
        """Raw product objects (``deals.keepa.product`` and ``deals.keepa.offers`` parse them).

        ``offers`` (20-100) asks for that many marketplace offers and ``only_live_offers`` drops
        the outdated ones; both are refused with a ValueError before any call when misused.
        """
        if offers is not None and (not _is_int(offers) or not MIN_OFFERS <= offers <= MAX_OFFERS):
            raise ValueError(f"offers must be an integer from {MIN_OFFERS} to {MAX_OFFERS}, got {offers!r}")
        if only_live_offers and offers is None:
            raise ValueError("only_live_offers needs offers")
        if isinstance(asins, str):
            asins = [asins]
        cleaned = [a.strip() for a in asins if isinstance(a, str) and a.strip()]
        if not cleaned or len(cleaned) != len(asins):
            raise InvalidParameter("products() needs non-empty ASIN strings")
        if len(cleaned) > MAX_ASINS_PER_CALL:
            raise InvalidParameter(f"at most {MAX_ASINS_PER_CALL} ASINs per call, got {len(cleaned)}")
        params: dict[str, Any] = {
            "domain": self.domain_id,
            "asin": ",".join(cleaned),
            "history": int(bool(history)),
        }
        if stats is not None:
            params["stats"] = stats
        if days is not None:
            params["days"] = days
        if offers is not None:
            params["offers"] = offers
        if only_live_offers:
            params["only-live-offers"] = 1
        if buybox:
            params["buybox"] = 1
        if rating:
            params["rating"] = 1
        if update is not None:
            params["update"] = update
        cost = estimate_product_cost(len(cleaned), offers=offers, buybox=buybox, update=update, rating=rating)
        body, reading = self._call("product", params, cost=cost)
        products = body.get("products")
        if not isinstance(products, list) or not all(isinstance(p, dict) for p in products):
            raise MalformedResponse("/product response has no list of product objects", reading=reading)
        return ProductsResponse(products=products, reading=reading)

    def sellers(self, seller_ids: Sequence[str]) -> SellersResponse:
        """Seller names and ratings, up to 100 ids per call.

        A longer list is refused rather than split, as ASINs are: the caller batches, so a
        failing call never loses the answers of one that already ran and was paid for. The
        reservation is 1 token per id; Keepa charges only the sellers it found.
        """
        if isinstance(seller_ids, str):
            seller_ids = [seller_ids]
        cleaned = [s.strip() for s in seller_ids if isinstance(s, str) and s.strip()]
        if not cleaned or len(cleaned) != len(seller_ids) or any(_SEPARATOR.search(s) for s in cleaned):
            raise InvalidParameter("sellers() needs non-empty seller ids without commas or spaces")
        unique = list(dict.fromkeys(cleaned))
        if len(unique) > MAX_SELLERS_PER_CALL:
            raise InvalidParameter(f"at most {MAX_SELLERS_PER_CALL} seller ids per call, got {len(unique)}")
        params = {"domain": self.domain_id, "seller": ",".join(unique)}
        body, reading = self._call("seller", params, cost=len(unique) * SELLER_COST)
        raw = body.get("sellers")
        if raw is not None and not isinstance(raw, dict):
            raise MalformedResponse("/seller response's 'sellers' is not an object", reading=reading)
        sellers, problems = parse_sellers(raw)
        return SellersResponse(sellers=sellers, reading=reading, problems=tuple(problems))

    def deals(self, selection: Mapping[str, Any]) -> DealsResponse:
        if not isinstance(selection, Mapping):
            raise InvalidParameter("deals() needs a selection mapping")
        query = dict(selection)
        query.setdefault("domainId", self.domain_id)
        try:
            encoded = json.dumps(query, separators=(",", ":"))
        except (TypeError, ValueError):
            raise InvalidParameter("deal selection is not JSON-serialisable") from None
        body, reading = self._call("deal", {"selection": encoded}, cost=DEAL_PAGE_COST)
        deals = body.get("deals")
        found = deals.get("dr") if isinstance(deals, dict) else None
        if not isinstance(found, list) or not all(isinstance(d, dict) for d in found):
            raise MalformedResponse("/deal response has no 'deals.dr' list", reading=reading)
        return DealsResponse(deals=found, reading=reading, total=matched_total(deals))

    # --- the one flow ----------------------------------------------------------------

    def _call(self, endpoint: str, params: dict[str, Any], *, cost: int) -> tuple[dict, TokenReading]:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=tenacity.wait_exponential_jitter(initial=1, max=30, jitter=1),
            retry=tenacity.retry_if_exception(_retry_at_once),
            sleep=self.clock.sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._attempt(endpoint, params, cost)
        raise AssertionError("unreachable: tenacity either returns or reraises")

    def _attempt(self, endpoint: str, params: dict[str, Any], cost: int) -> tuple[dict, TokenReading]:
        grant: Grant | None = None
        if cost > 0:
            outcome = self.bucket.reserve(cost)
            if isinstance(outcome, Refusal):
                raise NotEnoughTokens(
                    outcome.wait_seconds,
                    None,
                    outcome.reason,
                    message=f"token bucket refused {cost} tokens for /{endpoint} ({outcome.reason}); "
                    f"retry in {outcome.wait_seconds:.1f} s",
                )
            grant = outcome
        response, failure = self._send(endpoint, params)
        if failure is not None:
            self.bucket.settle(grant, None, status=None)
            logger.warning("keepa /%s failed: %s", endpoint, failure)
            raise failure
        status = response.status_code
        body, reading, problem = self._decode(response)
        self.bucket.settle(grant, reading, status=status)
        logger.debug(
            "keepa /%s -> %s (consumed=%s, left=%s)",
            endpoint,
            status,
            reading.tokens_consumed if reading else "?",
            reading.tokens_left if reading else "?",
        )
        if status == 200:
            if problem == NOT_JSON:
                raise TruncatedResponse(f"/{endpoint}: {problem} (cut off?)", status=status)
            if problem or reading is None:
                raise MalformedResponse(f"/{endpoint}: {problem or 'no token envelope'}", status=status)
            return body, reading
        raise self._error_for(endpoint, status, body, reading)

    def _send(
        self, endpoint: str, params: dict[str, Any]
    ) -> tuple[requests.Response | None, KeepaError | None]:
        """Send one request; transport failures come back as a redacted ``TransientError``
        built outside the ``except`` block, so it carries no chained ``requests`` error."""
        failure: KeepaError | None = None
        try:
            response = self.session.get(
                f"{self.base_url}/{endpoint}",
                params={"key": self._api_key, **params},
                timeout=self.timeout,
            )
        except requests.Timeout as exc:
            failure = TransientError(f"/{endpoint} timed out: {self._redact(exc)}")
        except requests.RequestException as exc:
            failure = TransientError(f"/{endpoint} connection failed: {self._redact(exc)}")
        if failure is not None:
            return None, failure
        return response, None

    def _decode(self, response: requests.Response) -> tuple[dict, TokenReading | None, str | None]:
        try:
            body = response.json()
        except ValueError:
            return {}, None, NOT_JSON
        if not isinstance(body, dict):
            return {}, None, "body is not a JSON object"
        try:
            reading = TokenReading.from_envelope(body)
        except MalformedReading as exc:
            return body, None, str(exc)
        return body, reading, None

    def _error_for(self, endpoint: str, status: int, body: dict, reading: TokenReading | None) -> KeepaError:
        detail = ""
        error = body.get("error")
        if isinstance(error, dict):
            detail = self._redact(f"{error.get('type', '')}: {error.get('message', '')}".strip(": "))
        message = f"/{endpoint} answered {status}" + (f" ({detail})" if detail else "")
        if status == 429:
            wait = seconds_until_positive(reading, self.clock.time()) if reading else FALLBACK_WAIT_SECONDS
            return NotEnoughTokens(wait, reading, "rate_limited", status=status, message=message)
        if status == 400:
            return InvalidParameter(message, status=status, reading=reading)
        if status == 402:
            self.bucket.pause_fatal(f"Keepa answered 402 on /{endpoint}: key expired or no access")
            return PaymentRequired(message, status=status, reading=reading)
        if status in (404, 405):
            return NotFound(message, status=status, reading=reading)
        if status >= 500:
            return TransientError(message, status=status, reading=reading)
        return KeepaError(message, status=status, reading=reading)

    def _redact(self, value: object) -> str:
        return redact(str(value), self._api_key)
