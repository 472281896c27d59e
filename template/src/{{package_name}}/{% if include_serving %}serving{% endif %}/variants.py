"""A/B tests and canaries: which served variant answers a request, by traffic weight, sticky per client.

A request that names a variant in `model` gets it. Otherwise a client that sends the sticky header (serve.sticky_header,
a user id for instance) is hashed to a point in [0, 1) that stays the same across requests and server restarts; the
variants share [0, 1) by weight, in a fixed order, so changing a weight moves only the clients near one boundary.
A request without the header draws a random point. Weights change at run time through POST /admin/variants.
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_right
from itertools import accumulate

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .settings import MAX_WEIGHT
from .validation import RequestError, parse_json


class WeightsBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    weights: dict[str, float] = Field(min_length=1)


class Router:
    """The variants' weights (relative: 9 and 1 send 90% and 10%) and the header that makes a client sticky."""

    def __init__(self, weights: dict[str, float], sticky_header: str | None) -> None:
        self.names = sorted(weights)  # a fixed order: a client's point falls in the same variant's range
        self.sticky_header = sticky_header.lower().encode() if sticky_header else None
        self.weights: dict[str, float] = {}
        self.set_weights(weights)

    def set_weights(self, weights: dict[str, float]) -> None:
        """New weights for some or all variants; a RequestError (nothing changed) when they cannot route."""
        unknown = sorted(set(weights) - set(self.names))
        if unknown:
            raise RequestError(400, f"No variant named {unknown[0]!r}: the variants are {', '.join(self.names)}.")
        new = {**self.weights, **weights}
        if any(not 0 <= weight <= MAX_WEIGHT for weight in new.values()) or sum(new.values()) <= 0:
            message = f"Weights must be numbers from 0 to {MAX_WEIGHT:g}, at least one above 0."
            raise RequestError(400, message, "weights")
        self.weights = new
        self.bounds = list(accumulate(new[name] / sum(new.values()) for name in self.names))

    def choose(self, requested: str | None, headers: list[tuple[bytes, bytes]]) -> str:
        if requested in self.weights:
            return requested
        client = next((value for name, value in headers if name.lower() == self.sticky_header), None)
        point = sticky_point(client) if client else random.random()  # nosec B311: traffic split, not security
        index = min(bisect_right(self.bounds, point), len(self.names) - 1)
        while self.weights[self.names[index]] == 0:  # a point on the boundary of an empty range
            index = (index + 1) % len(self.names)
        return self.names[index]

    def state(self) -> dict:
        return {"weights": dict(self.weights), "sticky_header": self.sticky_header and self.sticky_header.decode()}

    def update(self, body: bytes) -> dict:
        """POST /admin/variants {"weights": {"canary": 0}}: the new state, or a RequestError naming the problem."""
        try:
            weights = WeightsBody.model_validate(parse_json(body)).weights
        except ValidationError as error:
            details = error.errors(include_url=False)[0]
            raise RequestError(
                400, f'Send {{"weights": {{"<variant>": <number>}}}}: {details["msg"]}.', "weights"
            ) from None
        self.set_weights(weights)
        return self.state()


def sticky_point(client: bytes) -> float:
    """The client's fixed point in [0, 1): the first 8 bytes of its id's BLAKE2b hash."""
    return int.from_bytes(hashlib.blake2b(client, digest_size=8).digest(), "big") / 2**64
