"""A Keepa-compatible HTTP server for tests, demos and benchmarks (Keepa itself is unreachable).

It speaks Keepa's wire format closely enough for the ``keepa`` PyPI client: ``/token``,
``/product``, ``/deal`` and ``/seller`` (with or without a trailing slash; GET, and POST JSON
for ``/deal``), the token envelope on every JSON response (errors and 429 included), gzip when
asked, 402 for unknown keys, 400 ``invalidParameter`` for bad parameters, 404 for unknown
endpoints. Tokens follow ``KeepaTokenLedger`` (one per key) on the injected clock.

Costs are Keepa's published rules (``deals.keepa.facts``): ``/product`` 1 per product found,
+2 with ``buybox=1``; with ``offers=N`` (20..100) instead 6 per page of up to 10 live offers
retrieved (one page when there are none), or 1 when the product's offers could not be fetched
(``offers_failure_rate``); ``update=0`` +1 and ``rating=1`` +1 per product on top; ``/seller``
1 per seller found; ``/deal`` 5 per page. ``tokensConsumed`` is what was charged.
``only-live-offers=1`` leaves out the offers that are gone (``liveOffersOrder`` always lists
the live ones, in the order of Amazon's offer page).

``/deal`` honours ``page``, ``priceTypes``, ``dateRange``, ``sortType`` (1 newest first, 2
delta, 3 sales rank, 4 percent; negative inverts), the ranges (``currentRange``, ``deltaRange``,
``deltaPercentRange``, ``salesRankRange``: applied unless ``isRangeEnabled`` is false),
``includeCategories``/``excludeCategories``/``titleSearch``/``must(Not)HaveAmazonOffer``
(applied unless ``isFilterEnabled`` is false); every other field Keepa documents (
``warehouseConditions``, ``filterErotic``, ``minRating``, the attribute lists...) is accepted
and ignored, and a ``null`` field is an unset one, so an exported Keepa query runs as pasted.
``dateRange`` 4 reads the 90-day row (the catalogue computes Keepa's four intervals). A
result list is cached for two minutes of clock time, as Keepa does, so paging is stable.

Faults are injected before the request is processed: ``drop`` closes the connection without
an answer, ``error`` answers 500 (nothing charged); ``malformed`` and ``slow`` happen after
processing (charged, as Keepa would have done the work): a truncated JSON body, or an answer
delayed by ``slow_seconds``. Latency and slowness are real seconds on purpose: they exist to
trip the client's socket timeouts, which measure real time.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from deals.keepa.facts import (
    AMAZON,
    ASIN_RE,
    BUYBOX_COST,
    CSV_SLOTS,
    DEAL_PAGE_COST,
    DEAL_PAGE_SIZE,
    FAILED_OFFERS_COST,
    FRESH_UPDATE_COST,
    MAX_ASINS_PER_CALL,
    MAX_OFFERS,
    MAX_SELLERS_PER_CALL,
    MIN_OFFERS,
    OFFERS_PAGE_COST,
    OFFERS_PAGE_SIZE,
    RATING_COST,
    SALES,
    SELLER_COST,
    SORT_BY_DEAL_AGE,
    SORT_BY_DELTA,
    SORT_BY_DELTA_PERCENT,
    SORT_BY_SALES_RANK,
    unix_to_keepa_minutes,
)
from deals.keepa.redaction import redact
from keepasim.catalogue import Catalogue, build_catalogue
from keepasim.token_rules import KeepaTokenLedger
from tokens.clock import Clock, RealClock, ScaledClock

logger = logging.getLogger(__name__)

FAULT_KINDS = ("drop", "error", "malformed", "slow")
_ENDPOINTS = ("token", "product", "deal", "seller")
_RANGE_NAMES = ("currentRange", "deltaRange", "deltaPercentRange", "salesRankRange")
LONGEST_INTERVAL = 3  # the 90-day row of a deal's delta arrays


@dataclass
class SimulatorConfig:
    keys: dict[str, int] = field(default_factory=lambda: {"demo": 5})
    start_balance: int | None = None
    time_scale: float = 1.0
    seed: int = 1
    products: int = 500
    latency_ms: int = 0
    error_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 40.0
    malformed_rate: float = 0.0
    drop_rate: float = 0.0
    # Keepa-seconds the deal finder's result list is reused for (Keepa refreshes it every
    # few minutes); long runs at a high time scale raise it to keep the CPU on the pipeline.
    deal_cache_seconds: int = 120
    # Of the cheap used copies that make a product look profitable on statistics, the share
    # that can really be bought at a profit (the others fail as on Amazon; see generation).
    verifiable_share: float = 0.6
    offers_failure_rate: float = 0.0  # chance a product's offers cannot be fetched (costs 1)
    clock: Clock | None = None
    host: str = "127.0.0.1"
    port: int = 0


@dataclass
class SimulatorStats:
    calls: Counter = field(default_factory=Counter)  # per endpoint
    statuses: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    tokens_consumed: Counter = field(default_factory=Counter)  # per key
    rate_limited: int = 0  # 429s
    rate_limited_at: list = field(default_factory=list)  # the clock's time of each 429
    deal_selections: deque = field(default_factory=lambda: deque(maxlen=100))  # as received, newest last


class BadParameter(ValueError):
    """Becomes a 400 ``invalidParameter``."""


@dataclass
class _Reply:
    status: int = 200
    payload: dict | None = None
    consumed: int = 0
    drop: bool = False
    malformed: bool = False
    delay: float = 0.0


class KeepaSimulator:
    def __init__(self, config: SimulatorConfig | None = None):
        self.config = config or SimulatorConfig()
        cfg = self.config
        if cfg.clock is not None:
            self.clock: Clock = cfg.clock
        elif cfg.time_scale != 1:
            self.clock = ScaledClock(cfg.time_scale)
        else:
            self.clock = RealClock()
        self._ledgers = {
            key: KeepaTokenLedger(refill_rate=rate, clock=self.clock, start_balance=cfg.start_balance)
            for key, rate in cfg.keys.items()
        }
        self.stats = SimulatorStats()
        self._lock = threading.Lock()
        self._fault_rng = random.Random(cfg.seed)
        self._queued_faults: deque[str] = deque()
        self._deal_cache: dict[str, tuple[int, list[dict]]] = {}
        self._catalogue: Catalogue | None = None
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        if not 0 <= cfg.verifiable_share <= 1:
            raise ValueError("verifiable_share must be between 0 and 1")
        self.set_faults(
            error_rate=cfg.error_rate,
            slow_rate=cfg.slow_rate,
            malformed_rate=cfg.malformed_rate,
            drop_rate=cfg.drop_rate,
            offers_failure_rate=cfg.offers_failure_rate,
        )

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> str:
        """Serve on a background thread; returns the base URL."""
        _ = self.catalogue  # build before the first request, not inside it
        handler = type("KeepaSimulatorHandler", (_Handler,), {"simulator": self})
        self._server = ThreadingHTTPServer((self.config.host, self.config.port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="keepa-simulator",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("simulator not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> KeepaSimulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- knobs -----------------------------------------------------------------------

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            anchor = unix_to_keepa_minutes(self.clock.time()) // 60 * 60
            cfg = self.config
            self._catalogue = build_catalogue(cfg.seed, cfg.products, anchor, cfg.verifiable_share)
        return self._catalogue

    def ledger(self, key: str) -> KeepaTokenLedger:
        return self._ledgers[key]

    def add_key(self, key: str, refill_rate: int, start_balance: int | None = None) -> KeepaTokenLedger:
        ledger = KeepaTokenLedger(refill_rate=refill_rate, clock=self.clock, start_balance=start_balance)
        self._ledgers[key] = ledger
        return ledger

    def set_faults(
        self,
        *,
        error_rate: float | None = None,
        slow_rate: float | None = None,
        malformed_rate: float | None = None,
        drop_rate: float | None = None,
        offers_failure_rate: float | None = None,
        slow_seconds: float | None = None,
        latency_ms: int | None = None,
    ) -> None:
        """Change fault rates at runtime (each a probability per request; the offers failure
        rate per product of an offers call)."""
        changes = {
            "error_rate": error_rate,
            "slow_rate": slow_rate,
            "malformed_rate": malformed_rate,
            "drop_rate": drop_rate,
            "offers_failure_rate": offers_failure_rate,
        }
        for name, rate in changes.items():
            if rate is None:
                continue
            if not 0 <= rate <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
            setattr(self.config, name, rate)
        if slow_seconds is not None:
            self.config.slow_seconds = slow_seconds
        if latency_ms is not None:
            self.config.latency_ms = latency_ms

    def queue_faults(self, *kinds: str) -> None:
        """The next requests get these faults, in order, before the random rates apply."""
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        with self._lock:
            self._queued_faults.extend(kinds)

    def _next_fault(self) -> str | None:
        cfg = self.config
        with self._lock:
            if self._queued_faults:
                return self._queued_faults.popleft()
            for kind, rate in (
                ("drop", cfg.drop_rate),
                ("error", cfg.error_rate),
                ("malformed", cfg.malformed_rate),
                ("slow", cfg.slow_rate),
            ):
                if rate and self._fault_rng.random() < rate:
                    return kind
        return None

    def _count(self, endpoint: str, reply: _Reply, key: str | None, fault: str | None) -> None:
        with self._lock:
            self.stats.calls[endpoint] += 1
            self.stats.statuses[0 if reply.drop else reply.status] += 1
            if fault:
                self.stats.faults[fault] += 1
            if reply.status == 429:
                self.stats.rate_limited += 1
                self.stats.rate_limited_at.append(self.clock.time())
            if key and reply.consumed:
                self.stats.tokens_consumed[key] += reply.consumed

    # --- request handling ------------------------------------------------------------

    def respond(self, method: str, path: str, query: dict[str, str], body: bytes) -> _Reply:
        fault = self._next_fault()
        endpoint = path.strip("/")
        key = query.get("key")
        try:
            reply = self._respond(method, endpoint, key, query, body, fault)
        except Exception as exc:  # a simulator bug must still answer like Keepa, never hang up
            logger.error(
                "simulator failure on /%s: %s: %s", endpoint, type(exc).__name__, redact(str(exc), key or "")
            )
            error = {"type": "internalServerError", "message": "simulator failure"}
            reply = _Reply(500, {**self._envelope(key, 0), "error": error})
        self._count(endpoint, reply, key, fault)
        return reply

    def _envelope(self, key: str | None, consumed: int) -> dict:
        ledger = self._ledgers.get(key or "")
        if ledger is not None:
            return ledger.envelope(consumed)
        return {
            "tokensLeft": 0,
            "refillIn": 0,
            "refillRate": 0,
            "tokenFlowReduction": 0.0,
            "tokensConsumed": 0,
            "timestamp": int(self.clock.time() * 1000),
        }

    def _respond(
        self,
        method: str,
        endpoint: str,
        key: str | None,
        query: dict[str, str],
        body: bytes,
        fault: str | None,
    ) -> _Reply:
        if fault == "drop":
            return _Reply(drop=True)
        ledger = self._ledgers.get(key or "")
        if ledger is None:
            error = {"type": "paymentRequired", "message": "invalid or expired API key"}
            return _Reply(402, {**self._envelope(None, 0), "error": error})
        if fault == "error":
            error = {"type": "internalServerError", "message": "simulated failure"}
            return _Reply(500, {**ledger.envelope(0), "error": error})
        if endpoint not in _ENDPOINTS or (method == "POST" and endpoint != "deal"):
            error = {"type": "notFound", "message": f"unknown endpoint /{endpoint}"}
            return _Reply(
                404 if endpoint not in _ENDPOINTS else 405,
                {**ledger.envelope(0), "error": error},
            )
        if endpoint == "token":
            return _Reply(200, ledger.envelope(0))
        now = unix_to_keepa_minutes(self.clock.time())
        try:
            if endpoint == "product":
                result, cost = self._products(query, now)
            elif endpoint == "seller":
                result, cost = self._sellers(query, now)
            else:
                selection = self._selection(method, query, body)
                with self._lock:
                    self.stats.deal_selections.append(selection)
                result, cost = self._deals(selection, now)
        except BadParameter as exc:
            error = {"type": "invalidParameter", "message": str(exc)}
            return _Reply(400, {**ledger.envelope(0), "error": error})
        if not ledger.try_charge(cost):
            return _Reply(429, ledger.envelope(0))
        reply = _Reply(200, {**result, **ledger.envelope(cost)}, consumed=cost)
        reply.malformed = fault == "malformed"
        if fault == "slow":
            reply.delay = self.config.slow_seconds
        return reply

    def _products(self, query: dict[str, str], now: int) -> tuple[dict, int]:
        _int_param(query, "domain", 1, 12, default=1)
        raw_asins = query.get("asin")
        if raw_asins is None:
            raise BadParameter("the asin parameter is required (code lookups are not simulated)")
        asins = list(dict.fromkeys(a.strip().upper() for a in raw_asins.split(",")))
        if not asins or not all(ASIN_RE.match(a) for a in asins):
            raise BadParameter("asin must be a comma-separated list of 10-character ASINs")
        if len(asins) > MAX_ASINS_PER_CALL:
            raise BadParameter(f"at most {MAX_ASINS_PER_CALL} ASINs per request")
        stats = _int_param(query, "stats", 0, 100_000, default=0)
        history = _int_param(query, "history", 0, 1, default=1)
        days = _int_param(query, "days", 1, 100_000, default=None)
        offers = _int_param(query, "offers", MIN_OFFERS, MAX_OFFERS, default=None)
        only_live = _int_param(query, "only-live-offers", 0, 1, default=0)
        buybox = _int_param(query, "buybox", 0, 1, default=0)
        rating = _int_param(query, "rating", 0, 1, default=0)
        update = _int_param(query, "update", -1, 1_000_000, default=None)
        products, cost = [], 0
        for asin in asins:
            product = self.catalogue.get(asin)
            if product is None:
                continue
            failed = bool(offers) and self._offers_fail()
            products.append(
                product.to_json(
                    now,
                    stats_days=stats or None,
                    history=bool(history),
                    days=days,
                    offers=offers,
                    buybox=bool(buybox),
                    only_live_offers=bool(only_live),
                    offers_failed=failed,
                )
            )
            if failed:
                cost += FAILED_OFFERS_COST
            elif offers:
                pages = math.ceil(product.offers_found(offers, now) / OFFERS_PAGE_SIZE)
                cost += OFFERS_PAGE_COST * max(1, pages)
            else:
                cost += 1 + (BUYBOX_COST if buybox else 0)
            if update == 0:
                cost += FRESH_UPDATE_COST
            if rating:
                cost += RATING_COST
        return {"products": products}, cost

    def _offers_fail(self) -> bool:
        rate = self.config.offers_failure_rate
        if not rate:
            return False
        with self._lock:
            return self._fault_rng.random() < rate

    def _sellers(self, query: dict[str, str], now: int) -> tuple[dict, int]:
        """``/seller``: the sellers found, by id (unknown ids are left out and cost nothing)."""
        _int_param(query, "domain", 1, 12, default=1)
        _int_param(query, "storefront", 0, 1, default=0)
        _int_param(query, "update", 0, 1_000_000, default=None)
        ids = list(dict.fromkeys(s.strip() for s in (query.get("seller") or "").split(",") if s.strip()))
        if not ids:
            raise BadParameter("the seller parameter is required")
        if len(ids) > MAX_SELLERS_PER_CALL:
            raise BadParameter(f"at most {MAX_SELLERS_PER_CALL} seller ids per request")
        directory = self.catalogue.sellers
        found = {sid: directory[sid].to_json(now) for sid in ids if sid in directory}
        return {"sellers": found}, SELLER_COST * len(found)

    @staticmethod
    def _selection(method: str, query: dict[str, str], body: bytes) -> dict:
        raw: Any
        if method == "POST" and body:
            try:
                raw = json.loads(body)
            except ValueError:
                raise BadParameter("the POST body is not JSON") from None
            if isinstance(raw, dict) and "selection" in raw:
                raw = raw["selection"]
        else:
            raw = query.get("selection")
            if raw is None:
                raise BadParameter("the selection parameter is required")
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise BadParameter("selection is not valid JSON") from None
        if not isinstance(raw, dict):
            raise BadParameter("selection must be a JSON object")
        return raw

    def _deals(self, selection: dict, now: int) -> tuple[dict, int]:
        selection = {k: v for k, v in selection.items() if v is not None}  # null: filter unset
        page = _as_int(selection.get("page", 0), "page", 0, 10_000)
        _as_int(selection.get("domainId", 1), "domainId", 1, 12)
        price_types = selection.get("priceTypes", 0)
        if not isinstance(price_types, list):
            price_types = [price_types]
        if len(price_types) != 1:
            raise BadParameter("priceTypes must hold exactly one price type")
        price_type = _as_int(price_types[0], "priceTypes", 0, CSV_SLOTS - 1)
        # The catalogue's deals carry Keepa's four intervals; 4, Keepa's longest, reads the 90 days.
        date_range = min(_as_int(selection.get("dateRange", 0), "dateRange", 0, 4), LONGEST_INTERVAL)
        sort_type = _as_int(selection.get("sortType", SORT_BY_DELTA_PERCENT), "sortType", -4, 4)
        if sort_type == -SORT_BY_DEAL_AGE:
            raise BadParameter("sortType 1 (deal age) is not invertible")
        ranges_on = _as_bool(selection.get("isRangeEnabled", True))
        filters_on = _as_bool(selection.get("isFilterEnabled", True))
        ranges = {}
        for name in _RANGE_NAMES:
            value = selection.get(name)
            if value is not None and ranges_on:
                if not isinstance(value, list) or len(value) != 2:
                    raise BadParameter(f"{name} must be [min, max]")
                low, high = (_as_int(v, name, -1, 2**31 - 1) for v in value)
                ranges[name] = (low, math.inf if high == -1 else high)
        include = _int_list(selection.get("includeCategories"), "includeCategories") if filters_on else []
        exclude = _int_list(selection.get("excludeCategories"), "excludeCategories") if filters_on else []
        title_words = str(selection.get("titleSearch") or "").lower().split()
        amazon_must = filters_on and _as_bool(selection.get("mustHaveAmazonOffer", False))
        amazon_not = filters_on and _as_bool(selection.get("mustNotHaveAmazonOffer", False))

        cache_key = json.dumps(
            {k: v for k, v in selection.items() if k != "page"}, sort_keys=True, default=str
        )
        with self._lock:
            cached = self._deal_cache.get(cache_key)
        if cached is not None and now - cached[0] < self.config.deal_cache_seconds // 60:
            found = cached[1]
        else:
            found = []
            for product in self.catalogue:
                deal = self.catalogue.deal(product, price_type, now)
                if deal is None or deal["deltaPercent"][date_range][price_type] <= 0:
                    continue
                if include and not ({deal["rootCat"], *deal["categories"]} & set(include)):
                    continue
                if exclude and {deal["rootCat"], *deal["categories"]} & set(exclude):
                    continue
                if title_words and not all(w in deal["title"].lower() for w in title_words):
                    continue
                amazon_offer = deal["current"][AMAZON] > 0
                if (amazon_must and not amazon_offer) or (amazon_not and amazon_offer):
                    continue
                measures = {
                    "currentRange": deal["current"][price_type],
                    "deltaRange": deal["delta"][date_range][price_type],
                    "deltaPercentRange": deal["deltaPercent"][date_range][price_type],
                    "salesRankRange": deal["current"][SALES],
                }
                if any(
                    not (low <= measures[name] <= high) or (name == "salesRankRange" and measures[name] < 0)
                    for name, (low, high) in ranges.items()
                ):
                    continue
                found.append(deal)
            found.sort(key=_sort_key(sort_type, price_type, date_range))
            with self._lock:
                self._deal_cache[cache_key] = (now, found)
        page_deals = found[page * DEAL_PAGE_SIZE : (page + 1) * DEAL_PAGE_SIZE]
        categories = Counter(d["rootCat"] for d in found)
        result = {
            "deals": {
                "dr": page_deals,
                "categoryIds": list(categories),
                "categoryNames": ["Books" for _ in categories],
                "categoryCount": list(categories.values()),
            }
        }
        return result, DEAL_PAGE_COST


def _sort_key(sort_type: int, price_type: int, date_range: int):
    """Keepa's sort orders: 1 newest first, 2 biggest delta, 3 best rank, 4 biggest percent;
    negative values invert (ties by ASIN so pages are stable)."""
    sign = -1 if sort_type < 0 else 1
    kind = abs(sort_type) or SORT_BY_DELTA_PERCENT
    if kind == SORT_BY_DEAL_AGE:
        return lambda d: (-d["creationDate"], d["asin"])
    if kind == SORT_BY_DELTA:
        return lambda d: (-sign * d["delta"][date_range][price_type], d["asin"])
    if kind == SORT_BY_SALES_RANK:
        return lambda d: (d["current"][SALES] < 0, sign * d["current"][SALES], d["asin"])
    return lambda d: (-sign * d["deltaPercent"][date_range][price_type], d["asin"])


def _as_int(value: Any, name: str, low: int, high: int) -> int:
    """Keepa accepts numbers sent as strings in a selection."""
    if isinstance(value, bool):
        raise BadParameter(f"{name} must be an integer")
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise BadParameter(f"{name} must be an integer") from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not low <= value <= high:
        raise BadParameter(f"{name} must be an integer between {low} and {high}")
    return value


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _int_list(value: Any, name: str) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadParameter(f"{name} must be a list of category ids")
    return [_as_int(v, name, 0, 2**63 - 1) for v in value]


def _int_param(query: dict[str, str], name: str, low: int, high: int, *, default: int | None) -> int | None:
    if name not in query or query[name] == "":
        return default
    return _as_int(query[name], name, low, high)


class _Handler(BaseHTTPRequestHandler):
    simulator: KeepaSimulator
    protocol_version = "HTTP/1.1"
    server_version = "KeepaSimulator/1.0"

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        started = time.monotonic()
        sim = self.simulator
        if sim._stopping.is_set():  # a kept-alive connection outlives the listener: answer nothing
            self.close_connection = True
            return
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = self.headers.get("Content-Length") or "0"
        body = self.rfile.read(int(length)) if length.isdigit() and int(length) > 0 else b""
        if sim.config.latency_ms:
            sim._stopping.wait(sim.config.latency_ms / 1000)
        reply = sim.respond(method, parts.path, query, body)
        logger.info(
            "%s %s -> %s (%s tokens)",
            method,
            redact(parts.path, ""),
            "dropped" if reply.drop else reply.status,
            reply.consumed,
        )
        if reply.drop:
            self.close_connection = True
            return
        payload = dict(reply.payload or {})
        payload["processingTimeInMs"] = int((time.monotonic() - started) * 1000)
        data = json.dumps(payload, separators=(",", ":")).encode()
        if reply.malformed:
            data = data[: max(1, len(data) // 2)]
        if reply.delay:
            sim._stopping.wait(reply.delay)
        headers = {"Content-Type": "application/json;charset=UTF-8"}
        if "gzip" in (self.headers.get("Accept-Encoding") or ""):
            data = gzip.compress(data, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        try:
            self.send_response(reply.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout): nothing to tell it

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(redact(format % args, ""))
