"""A small, stateful, in-memory stand-in of the Stripe REST API (v1), served by aiohttp on 127.0.0.1.

It answers like Stripe, so the real stripe-python client can talk to it::

    async with StripeStandIn() as stripe_api:
        client = stripe.StripeClient(
            "sk_test_demo", base_addresses={"api": stripe_api.base_url}, http_client=stripe.HTTPXClient()
        )
        await client.v1.customers.create_async({"email": "fan@example.com"})

Objects are built from Stripe's published fixtures (`storefront.stripe_fixtures`). Covered: customers,
products, prices, Checkout Sessions, Billing Portal sessions, and read-only subscriptions and charges
(seeded with `put_subscription` / `put_charge`). Also like Stripe: bearer-key checks, a sliding-window
rate limit answering 429, `Idempotency-Key` replays, `expand[]`, and Stripe's error JSON.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from storefront.clock import Clock, SystemClock
from storefront.standins._loopback import LoopbackServer
from storefront.stripe_fixtures import load_fixture

__all__ = ["RecordedRequest", "StripeStandIn", "parse_bracket_params"]

StripeObject = dict[str, Any]
Params = dict[str, Any]
_Handler = Callable[[Params, Mapping[str, str]], StripeObject]
_Endpoint = Callable[[web.Request], Awaitable[web.Response]]

_log = logging.getLogger(__name__)
_PARAMS_KEY = web.RequestKey("stripe_params", dict)
_DEFAULT_API_VERSION = "2026-10-28.endive"
_CHECKOUT_LIFETIME = 24 * 60 * 60
_CHECKOUT_MIN_LIFETIME = 30 * 60
_SUBSCRIPTION_STATUSES = frozenset(
    {"active", "canceled", "incomplete", "incomplete_expired", "past_due", "paused", "trialing", "unpaid"}
)
_RECURRING_INTERVALS = frozenset({"day", "week", "month", "year"})
_KINDS = ("customer", "product", "price", "checkout.session", "billing_portal.session", "subscription", "charge")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in received it, with the status it answered."""

    method: str
    path: str
    params: Params
    idempotency_key: str | None
    status: int


class _StripeError(Exception):
    """An error answered with Stripe's error JSON."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": {"type": type, "message": message}}
        if code is not None:
            self.body["error"]["code"] = code
        if param is not None:
            self.body["error"]["param"] = param


def _missing(param: str) -> _StripeError:
    return _StripeError(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def _invalid(param: str, message: str) -> _StripeError:
    return _StripeError(400, message, code="parameter_invalid", param=param)


def _no_such(kind: str, object_id: str, *, param: str, status: int) -> _StripeError:
    return _StripeError(status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


@dataclass(frozen=True)
class _SavedResponse:
    fingerprint: str
    status: int
    body: bytes
    request_id: str


# --- form decoding -----------------------------------------------------------------------------------------

_KEY_SHAPE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_KEY_PART = re.compile(r"\[([^\[\]]*)\]")


def parse_bracket_params(pairs: Iterable[tuple[str, str]]) -> Params:
    """Turn Stripe's form pairs (`line_items[0][price]=price_1`, `expand[]=x`) into nested dicts and lists.

    Keys made only of indexes become lists; `[]` appends. Values stay strings. Raises ValueError on
    malformed or conflicting keys.
    """
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        shape = _KEY_SHAPE.match(raw_key)
        if shape is None:
            raise ValueError(f"Invalid parameter name: {raw_key}")
        parts = [shape.group(1), *_KEY_PART.findall(shape.group(2))]
        node = root
        for depth, part in enumerate(parts):
            key = str(len(node)) if part == "" else part
            if depth == len(parts) - 1:
                if isinstance(node.get(key), dict):
                    raise ValueError(f"Conflicting values for parameter {raw_key}")
                node[key] = value
                break
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ValueError(f"Conflicting values for parameter {raw_key}")
            node = child
    return _listify(root, parent=None)


def _listify(node: dict[str, Any], *, parent: str | None) -> Any:
    converted = {key: _listify(value, parent=key) if isinstance(value, dict) else value for key, value in node.items()}
    # Metadata keys are free text, so `metadata[0]` stays a key.
    if parent != "metadata" and converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


# --- parameter readers -------------------------------------------------------------------------------------


def _text(params: Params, name: str, *, path: str | None = None) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _invalid(path or name, f"Invalid string: {path or name}")
    return value


def _required_text(params: Params, name: str, *, path: str | None = None) -> str:
    value = _text(params, name, path=path)
    if value is None:
        raise _missing(path or name)
    return value


def _integer(params: Params, name: str, *, path: str | None = None, minimum: int | None = None) -> int | None:
    text = _text(params, name, path=path)
    if text is None:
        return None
    if not re.fullmatch(r"-?\d+", text):
        raise _invalid(path or name, f"Invalid integer: {text}")
    value = int(text)
    if minimum is not None and value < minimum:
        raise _invalid(path or name, f"This value must be greater than or equal to {minimum}.")
    return value


def _boolean(params: Params, name: str) -> bool | None:
    text = _text(params, name)
    if text is None:
        return None
    if text not in ("true", "false"):
        raise _invalid(name, f"Invalid boolean: {text}")
    return text == "true"


def _mapping(params: Params, name: str) -> Params:
    value = params.get(name, {})
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise _invalid(name, f"Invalid object: {name}")
    return value


def _metadata(params: Params, *, path: str = "metadata") -> dict[str, str]:
    raw = params.get("metadata", {})
    if raw == "":
        return {}
    if not isinstance(raw, dict) or not all(isinstance(value, str) for value in raw.values()):
        raise _invalid(path, f"Invalid object: {path}")
    # An empty value unsets a key in Stripe.
    return {key: value for key, value in raw.items() if value != ""}


def _expand_paths(params: Params) -> list[str]:
    raw = params.get("expand", [])
    if isinstance(raw, str):
        return [raw]
    if not isinstance(raw, list) or not all(isinstance(path, str) for path in raw):
        raise _invalid("expand", "Invalid array: expand")
    return raw


def _new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{secrets.token_hex(length // 2)}"


def _masked(key: str) -> str:
    return key[:8] + "*" * max(len(key) - 12, 0) + key[-4:] if len(key) > 12 else "*" * len(key)


class StripeStandIn(LoopbackServer):
    """An in-memory Stripe API on 127.0.0.1 that the real stripe-python client can call.

    `rate_limit` is requests per sliding second (None turns it off); `api_key`, if given, is the only key
    accepted, otherwise any `sk_`/`rk_` key is; `clock` dates the objects (`created`, `expires_at`) and
    `timer` (seconds, monotonic) drives the rate-limit window, so a frozen test clock cannot stall it.
    The base URL is what to pass as `base_addresses={"api": ...}`.
    """

    name = "Stripe stand-in"

    def __init__(
        self,
        *,
        rate_limit: int | None = 25,
        api_key: str | None = None,
        port: int = 0,
        clock: Clock | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_limit = rate_limit
        self.requests: list[RecordedRequest] = []
        self._api_key = api_key
        super().__init__(port)
        self._clock = clock or SystemClock()
        self._timer = timer
        self._objects: dict[str, dict[str, StripeObject]] = {kind: {} for kind in _KINDS}
        self._order: dict[str, int] = {}
        self._checkout_line_items: dict[str, list[StripeObject]] = {}
        self._portal_configuration = _new_id("bpc")
        self._recent: deque[float] = deque()
        self._failures: deque[int] = deque()
        self._saved: dict[str, _SavedResponse] = {}

    # --- seeding, failure injection and inspection -----------------------------------------------------

    def put_subscription(self, subscription: StripeObject) -> None:
        """Store or replace a subscription (by id), as Stripe would hold it after a checkout."""
        self._put("subscription", subscription)

    def put_charge(self, charge: StripeObject) -> None:
        """Store or replace a charge (by id)."""
        self._put("charge", charge)

    def put_customer(self, customer: StripeObject) -> None:
        """Store or replace a customer (by id), e.g. one that a seeded subscription points at."""
        self._put("customer", customer)

    def put_product(self, product: StripeObject) -> None:
        """Store or replace a product (by id)."""
        self._put("product", product)

    def put_price(self, price: StripeObject) -> None:
        """Store or replace a price (by id), e.g. to use fixed ids from a catalog file."""
        self._put("price", price)

    def fail_next(self, count: int, status: int = 500) -> None:
        """Make the next `count` requests fail with `status` before they reach any endpoint."""
        if count < 0 or not 400 <= status <= 599:
            raise ValueError("fail_next needs count >= 0 and an error status between 400 and 599.")
        self._failures.extend([status] * count)

    def created_checkout_sessions(self) -> list[StripeObject]:
        """The Checkout Sessions created so far, oldest first, as Stripe holds them now."""
        return [copy.deepcopy(session) for session in self._objects["checkout.session"].values()]

    def _put(self, kind: str, obj: StripeObject) -> None:
        object_id = obj.get("id")
        if not isinstance(object_id, str) or not object_id:
            raise ValueError(f"A {kind} needs a string id.")
        if obj.get("object", kind) != kind:
            raise ValueError(f"Expected a {kind}, got object {obj.get('object')!r}.")
        self._store(kind, copy.deepcopy(obj))

    def _store(self, kind: str, obj: StripeObject) -> StripeObject:
        self._order.setdefault(obj["id"], len(self._order))
        self._objects[kind][obj["id"]] = obj
        return obj

    def _now(self) -> int:
        return int(self._clock.now().timestamp())

    # --- HTTP plumbing ---------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        routes: list[tuple[str, str, _Handler]] = [
            ("POST", "/v1/customers", self._create_customer),
            ("GET", "/v1/customers/{id}", self._retrieve("customer")),
            ("POST", "/v1/products", self._create_product),
            ("GET", "/v1/products", self._list_products),
            ("GET", "/v1/products/{id}", self._retrieve("product")),
            ("POST", "/v1/prices", self._create_price),
            ("GET", "/v1/prices", self._list_prices),
            ("GET", "/v1/prices/{id}", self._retrieve("price")),
            ("POST", "/v1/checkout/sessions", self._create_checkout_session),
            ("GET", "/v1/checkout/sessions/{id}", self._retrieve("checkout.session")),
            ("GET", "/v1/checkout/sessions/{id}/line_items", self._list_checkout_line_items),
            ("POST", "/v1/checkout/sessions/{id}/expire", self._expire_checkout_session),
            ("POST", "/v1/billing_portal/sessions", self._create_portal_session),
            ("GET", "/v1/subscriptions", self._list_subscriptions),
            ("GET", "/v1/subscriptions/{id}", self._retrieve("subscription")),
            ("GET", "/v1/charges/{id}", self._retrieve("charge")),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, self._endpoint(handler))
        return app

    def _endpoint(self, handler: _Handler) -> _Endpoint:
        async def endpoint(request: web.Request) -> web.Response:
            params = request[_PARAMS_KEY]
            result = copy.deepcopy(handler(params, request.match_info))
            for path in _expand_paths(params):
                self._expand(result, path.split("."), path)
            return web.json_response(result)

        return endpoint

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Endpoint) -> web.Response:
        request_id = _new_id("req", 14)
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        params: Params = {}
        try:
            params = await self._read_params(request)
            request[_PARAMS_KEY] = params
            response = await self._answer(request, handler, params, key, request_id)
        except _StripeError as error:
            response = web.json_response(error.body, status=error.status)
        except Exception:
            _log.exception("Stripe stand-in failed on %s %s", request.method, request.path)
            response = web.json_response(self._failure(500).body, status=500)
        response.headers.setdefault("Request-Id", request_id)
        response.headers["Stripe-Version"] = request.headers.get("Stripe-Version", _DEFAULT_API_VERSION)
        if key is not None:
            response.headers["Idempotency-Key"] = key
        self.requests.append(RecordedRequest(request.method, request.path, params, key, response.status))
        return response

    async def _answer(
        self,
        request: web.Request,
        handler: _Endpoint,
        params: Params,
        key: str | None,
        request_id: str,
    ) -> web.Response:
        if self._failures:
            raise self._failure(self._failures.popleft())
        self._authenticate(request.headers.get("Authorization", ""))
        self._admit()
        if request.match_info.http_exception is not None:
            raise _StripeError(
                404,
                f"Unrecognized request URL ({request.method}: {request.path}). Please see "
                "https://stripe.com/docs or we can help at https://support.stripe.com/.",
            )
        if key is None:
            return await handler(request)
        fingerprint = hashlib.sha256(
            json.dumps([request.method, request.path, params], sort_keys=True).encode()
        ).hexdigest()
        saved = self._saved.get(key)
        if saved is not None:
            if saved.fingerprint != fingerprint:
                raise _StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they were first "
                    f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
                    type="idempotency_error",
                )
            replay = web.Response(body=saved.body, status=saved.status, content_type="application/json")
            replay.headers["Idempotent-Replayed"] = "true"
            replay.headers["Original-Request"] = saved.request_id
            return replay
        response = await handler(request)
        # Like Stripe, only results of requests that got past validation are saved.
        if response.status < 400 and isinstance(response.body, bytes):
            self._saved[key] = _SavedResponse(fingerprint, response.status, response.body, request_id)
        return response

    @staticmethod
    async def _read_params(request: web.Request) -> Params:
        pairs = parse_qsl(request.query_string, keep_blank_values=True)
        if request.method == "POST":
            pairs += parse_qsl(await request.text(), keep_blank_values=True)
        try:
            return parse_bracket_params(pairs)
        except ValueError as error:
            raise _StripeError(400, str(error)) from error

    def _authenticate(self, authorization: str) -> None:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "basic":
            try:
                credentials = base64.b64decode(credentials).decode().partition(":")[0]
            except ValueError:
                credentials = ""
        elif scheme.lower() != "bearer":
            credentials = ""
        if not credentials:
            raise _StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        accepted = credentials == self._api_key if self._api_key else credentials.startswith(("sk_", "rk_"))
        if not accepted:
            raise _StripeError(401, f"Invalid API Key provided: {_masked(credentials)}")

    def _admit(self) -> None:
        """Sliding one-second window over the requests admitted so far."""
        if self.rate_limit is None:
            return
        now = self._timer()
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit:
            raise self._failure(429)
        self._recent.append(now)

    @staticmethod
    def _failure(status: int) -> _StripeError:
        if status == 429:
            return _StripeError(
                429,
                "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
                code="rate_limit",
            )
        return _StripeError(
            status,
            "Sorry, something went wrong. We've already been notified of the problem, but if you need any "
            "help, you can reach us at support.stripe.com/contact.",
            type="api_error",
        )

    # --- lookups, lists and expansion ------------------------------------------------------------------

    def _find(self, kind: str, object_id: str, *, param: str = "id", status: int = 404) -> StripeObject:
        found = self._objects[kind].get(object_id)
        if found is None:
            raise _no_such(kind, object_id, param=param, status=status)
        return found

    def _retrieve(self, kind: str) -> _Handler:
        def retrieve(params: Params, match: Mapping[str, str]) -> StripeObject:
            return self._find(kind, match["id"])

        return retrieve

    def _newest_first(self, items: Iterable[StripeObject]) -> list[StripeObject]:
        return sorted(items, key=lambda item: (item.get("created") or 0, self._order[item["id"]]), reverse=True)

    @staticmethod
    def _page(kind: str, items: list[StripeObject], params: Params, url: str) -> StripeObject:
        """One page of a Stripe list of `items` (already in order): `limit`, `starting_after`, `ending_before`."""
        limit = _integer(params, "limit", minimum=1)
        limit = 10 if limit is None else limit
        if limit > 100:
            raise _invalid("limit", "This value must be less than or equal to 100.")
        ids = [item["id"] for item in items]
        if (after := _text(params, "starting_after")) is not None:
            if after not in ids:
                raise _no_such(kind, after, param="starting_after", status=400)
            rest = items[ids.index(after) + 1 :]
            page, has_more = rest[:limit], len(rest) > limit
        elif (before := _text(params, "ending_before")) is not None:
            if before not in ids:
                raise _no_such(kind, before, param="ending_before", status=400)
            rest = items[: ids.index(before)]
            page, has_more = rest[-limit:], len(rest) > limit
        else:
            page, has_more = items[:limit], len(items) > limit
        return {"object": "list", "data": page, "has_more": has_more, "url": url}

    def _expand(self, node: Any, parts: list[str], path: str) -> None:
        if isinstance(node, list):
            for item in node:
                self._expand(item, parts, path)
            return
        if not isinstance(node, dict):
            return
        field, rest = parts[0], parts[1:]
        if field == "line_items" and node.get("object") == "checkout.session":
            node["line_items"] = self._line_items_page(node["id"], {})
        elif field not in node:
            raise _invalid("expand", f"This property cannot be expanded ({path}).")
        elif not rest and isinstance(node[field], str):
            node[field] = copy.deepcopy(self._find_any(node[field]) or node[field])
        if rest:
            self._expand(node[field], rest, path)

    def _find_any(self, object_id: str) -> StripeObject | None:
        for objects in self._objects.values():
            if object_id in objects:
                return objects[object_id]
        return None

    # --- customers, products, prices -------------------------------------------------------------------

    def _create_customer(self, params: Params, match: Mapping[str, str]) -> StripeObject:
        customer = load_fixture("customer")
        customer.update(
            id=_new_id("cus", 14),
            created=self._now(),
            email=_text(params, "email"),
            name=_text(params, "name"),
            phone=_text(params, "phone"),
            description=_text(params, "description"),
            metadata=_metadata(params),
            address=None,
            shipping=None,
            currency=None,
            discount=None,
            invoice_prefix=secrets.token_hex(4).upper(),
            livemode=False,
        )
        return self._store("customer", customer)

    def _create_product(self, params: Params, match: Mapping[str, str]) -> StripeObject:
        product = load_fixture("product")
        now = self._now()
        active = _boolean(params, "active")
        product.update(
            id=_new_id("prod", 14),
            created=now,
            updated=now,
            name=_required_text(params, "name"),
            description=_text(params, "description"),
            active=True if active is None else active,
            metadata=_metadata(params),
            default_price=None,
            images=[],
            marketing_features=[],
            package_dimensions=None,
            url=None,
            livemode=False,
        )
        return self._store("product", product)

    def _list_products(self, params: Params, match: Mapping[str, str]) -> StripeObject:
        products = list(self._objects["product"].values())
        if (active := _boolean(params, "active")) is not None:
            products = [product for product in products if product["active"] == active]
        if "ids" in params:
            wanted = params["ids"] if isinstance(params["ids"], list) else [params["ids"]]
            products = [product for product in products if product["id"] in wanted]
        return self._page("product", self._newest_first(products), params, "/v1/products")

    def _create_price(self, params: Params, match: Mapping[str, str]) -> StripeObject:
        product_id = _required_text(params, "product")
        self._find("product", product_id, param="product", status=400)
        currency = _required_text(params, "currency").lower()
        unit_amount = _integer(params, "unit_amount", minimum=0)
        if unit_amount is None:
            raise _missing("unit_amount")
        lookup_key = _text(params, "lookup_key")
        if lookup_key is not None:
            holder = next((p for p in self._objects["price"].values() if p["lookup_key"] == lookup_key), None)
            if holder is not None and _boolean(params, "transfer_lookup_key") is not True:
                raise _invalid("lookup_key", f"A price (`{holder['id']}`) already uses that lookup key.")
            if holder is not None:
                holder["lookup_key"] = None
        recurring = self._recurring(params)
        active = _boolean(params, "active")
        price = load_fixture("price")
        price.update(
            id=_new_id("price", 24),
            created=self._now(),
            product=product_id,
            currency=currency,
            unit_amount=unit_amount,
            unit_amount_decimal=str(unit_amount),
            recurring=recurring,
            type="one_time" if recurring is None else "recurring",
            active=True if active is None else active,
            lookup_key=lookup_key,
            nickname=_text(params, "nickname"),
            metadata=_metadata(params),
            custom_unit_amount=None,
            transform_quantity=None,
            livemode=False,
        )
        return self._store("price", price)

    @staticmethod
    def _recurring(params: Params) -> StripeObject | None:
        if "recurring" not in params:
            return None
        recurring = _mapping(params, "recurring")
        interval = _required_text(recurring, "interval", path="recurring[interval]")
        if interval not in _RECURRING_INTERVALS:
            raise _invalid(
                "recurring[interval]", f"Invalid recurring[interval]: must be one of {sorted(_RECURRING_INTERVALS)}"
            )
        count = _integer(recurring, "interval_count", path="recurring[interval_count]", minimum=1)
        return {
            "interval": interval,
            "interval_count": 1 if count is None else count,
            "meter": None,
            "usage_type": "licensed",
            "trial_period_days": None,
        }

    def _list_prices(self, params: Params, match: Mapping[str, str]) -> StripeObject:
        prices = list(self._objects["price"].values())
        if (product := _text(params, "product")) is not None:
            prices = [price for price in prices if price["product"] == product]
        if (active := _boolean(params, "active")) is not None:
            prices = [price for price in prices if price["active"] == active]
        if (price_type := _text(params, "type")) is not None:
            prices = [price for price in prices if price["type"] == price_type]
        if (currency := _text(params, "currency")) is not None:
            prices = [price for price in prices if price["currency"] == currency.lower()]
        if "lookup_keys" in params:
            keys = params["lookup_keys"] if isinstance(params["lookup_keys"], list) else [params["lookup_keys"]]
            prices = [price for price in prices if price["lookup_key"] in keys]
        return self._page("price", self._newest_first(prices), params, "/v1/prices")

    # --- Checkout and the Billing Portal ---------------------------------------------------------------

    def _create_checkout_session(self, params: Params, match: Mapping[str, str]) -> StripeObject:
        mode = _required_text(params, "mode")
        if mode not in ("payment", "subscription", "setup"):
            raise _invalid("mode", "Invalid mode: must be one of payment, setup, or subscription")
        if "subscription_data" in params and mode != "subscription":
            raise _invalid("subscription_data", "You can only pass in subscription_data in subscription mode.")
        if "payment_intent_data" in params and mode != "payment":
            raise _invalid("payment_intent_data", f"You can not pass `payment_intent_data` in `{mode}` mode.")
        subscription_data = _mapping(params, "subscription_data")
        _metadata(subscription_data, path="subscription_data[metadata]")
        _integer(subscription_data, "trial_period_days", path="subscription_data[trial_period_days]", minimum=1)
        _metadata(_mapping(params, "payment_intent_data"), path="payment_intent_data[metadata]")
        customer = _text(params, "customer")
        if customer is not None:
            self._find("customer", customer, param="customer", status=400)
        now = self._now()
        expires_at = _integer(params, "expires_at")
        if expires_at is not None and not now + _CHECKOUT_MIN_LIFETIME <= expires_at <= now + _CHECKOUT_LIFETIME:
            raise _invalid("expires_at", "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.")
        session_id = _new_id("cs_test", 58)
        line_items = self._checkout_line_items_from(params, mode)
        amount = sum(item["amount_total"] for item in line_items) if line_items else None
        allow_promotion_codes = _boolean(params, "allow_promotion_codes")
        session = load_fixture("checkout.session")
        session.update(
            id=session_id,
            object="checkout.session",
            created=now,
            expires_at=now + _CHECKOUT_LIFETIME if expires_at is None else expires_at,
            url=f"https://checkout.stripe.com/c/pay/{session_id}",
            mode=mode,
            status="open",
            payment_status="unpaid",
            client_reference_id=_text(params, "client_reference_id"),
            customer=customer,
            customer_email=_text(params, "customer_email"),
            customer_details=None,
            collected_information=None,
            metadata=_metadata(params),
            success_url=_text(params, "success_url"),
            cancel_url=_text(params, "cancel_url"),
            allow_promotion_codes=allow_promotion_codes,
            amount_subtotal=amount,
            amount_total=amount,
            currency=line_items[0]["currency"] if line_items else None,
            total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0} if line_items else None,
            payment_intent=None,
            subscription=None,
            invoice=None,
            after_expiration=None,
            shipping_address_collection=None,
            shipping_cost=None,
            currency_conversion=None,
            custom_text={
                "after_submit": None,
                "shipping_address": None,
                "submit": None,
                "terms_of_service_acceptance": None,
            },
            payment_method_configuration_details=None,
            livemode=False,
        )
        self._checkout_line_items[session_id] = line_items
        return self._store("checkout.session", session)

    def _checkout_line_items_from(self, params: Params, mode: str) -> list[StripeObject]:
        raw = params.get("line_items")
        if raw is None:
            if mode == "setup":
                return []
            raise _missing("line_items")
        if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
            raise _invalid("line_items", "Invalid array: line_items")
        items = []
        for index, item in enumerate(raw):
            path = f"line_items[{index}]"
            price = self._find(
                "price", _required_text(item, "price", path=f"{path}[price]"), param=f"{path}[price]", status=400
            )
            if not price["active"]:
                raise _invalid(
                    f"{path}[price]", "The price specified is inactive. This field only accepts active prices."
                )
            quantity = _integer(item, "quantity", path=f"{path}[quantity]", minimum=1)
            if quantity is None:
                raise _missing(f"{path}[quantity]")
            if mode == "payment" and price["type"] == "recurring":
                raise _invalid(
                    f"{path}[price]",
                    "You specified `payment` mode but passed a recurring price. Either switch to "
                    "`subscription` mode or use only one-time prices.",
                )
            line_item = load_fixture("item")
            product = self._objects["product"].get(price["product"])
            amount = price["unit_amount"] * quantity
            line_item.update(
                id=_new_id("li", 24),
                price=copy.deepcopy(price),
                quantity=quantity,
                currency=price["currency"],
                description=product["name"] if product else None,
                amount_subtotal=amount,
                amount_total=amount,
                amount_discount=0,
                amount_tax=0,
                adjustable_quantity=None,
            )
            items.append(line_item)
        if mode == "subscription" and not any(item["price"]["type"] == "recurring" for item in items):
            raise _invalid(
                "line_items",
                "You must provide at least one recurring price in `subscription` mode when using prices.",
            )
        return items

    def _line_items_page(self, session_id: str, params: Params) -> StripeObject:
        url = f"/v1/checkout/sessions/{session_id}/line_items"
        return self._page("item", self._checkout_line_items[session_id], params, url)

    def _list_checkout_line_items(self, params: Params, match: Mapping[str, str]) -> StripeObject:
        session = self._find("checkout.session", match["id"])
        return self._line_items_page(session["id"], params)

    def _expire_checkout_session(self, params: Params, match: Mapping[str, str]) -> StripeObject:
        session = self._find("checkout.session", match["id"])
        if session["status"] != "open":
            raise _StripeError(
                400,
                f'Only Checkout Sessions with a status in ["open"] can be expired. This session has a status '
                f'of "{session["status"]}".',
                code="checkout_session_expired" if session["status"] == "expired" else None,
            )
        session["status"] = "expired"
        return session

    def _create_portal_session(self, params: Params, match: Mapping[str, str]) -> StripeObject:
        customer = _required_text(params, "customer")
        self._find("customer", customer, param="customer", status=400)
        portal = load_fixture("billing_portal.session")
        portal.update(
            id=_new_id("bps", 24),
            created=self._now(),
            customer=customer,
            return_url=_text(params, "return_url"),
            url=f"https://billing.stripe.com/p/session/test_{secrets.token_hex(20)}",
            configuration=_text(params, "configuration") or self._portal_configuration,
            flow=None,
            locale=_text(params, "locale"),
            livemode=False,
        )
        return self._store("billing_portal.session", portal)

    # --- subscriptions ---------------------------------------------------------------------------------

    def _list_subscriptions(self, params: Params, match: Mapping[str, str]) -> StripeObject:
        subscriptions = list(self._objects["subscription"].values())
        status = _text(params, "status")
        if status is None:
            subscriptions = [sub for sub in subscriptions if sub.get("status") != "canceled"]
        elif status == "ended":
            subscriptions = [sub for sub in subscriptions if sub.get("status") in ("canceled", "incomplete_expired")]
        elif status in _SUBSCRIPTION_STATUSES:
            subscriptions = [sub for sub in subscriptions if sub.get("status") == status]
        elif status != "all":
            choices = ", ".join(sorted([*_SUBSCRIPTION_STATUSES, "all", "ended"]))
            raise _invalid("status", f"Invalid status: must be one of {choices}")
        if (customer := _text(params, "customer")) is not None:
            subscriptions = [sub for sub in subscriptions if sub.get("customer") == customer]
        if (price := _text(params, "price")) is not None:
            subscriptions = [
                sub
                for sub in subscriptions
                if any(item["price"]["id"] == price for item in sub.get("items", {}).get("data", []))
            ]
        return self._page("subscription", self._newest_first(subscriptions), params, "/v1/subscriptions")
