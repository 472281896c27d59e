"""Alert rules read from YAML: which signal they watch, when they fire, and what they do then.

A rule fires when its condition holds for `consecutive` observations in a row, and fires again
only after the condition has cleared, so a lasting problem raises one alert, not one per step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import UserError

# kind -> (signal it watches, whether it needs a threshold)
KINDS = {
    "loss_not_finite": ("loss", False),
    "grad_norm_above": ("grad_norm", True),
    "val_loss_rising": ("val_loss", False),
    "tokens_per_s_below": ("tokens_per_s", True),
}
ACTIONS = ("log", "stop", "webhook")


@dataclass
class Rule:
    name: str
    kind: str
    threshold: float | None = None
    consecutive: int = 1
    actions: tuple[str, ...] = ("log",)
    _streak: int = field(default=0, repr=False)
    _armed: bool = field(default=True, repr=False)
    _previous: float | None = field(default=None, repr=False)

    @property
    def signal(self) -> str:
        return KINDS[self.kind][0]

    def observe(self, value: float) -> bool:
        """Feed one observation of the rule's signal; True when the rule fires now."""
        hit = self._holds(value)
        self._streak = self._streak + 1 if hit else 0
        if not hit:
            self._armed = True
        if hit and self._armed and self._streak >= self.consecutive:
            self._armed = False
            return True
        return False

    def _holds(self, value: float) -> bool:
        if self.kind == "loss_not_finite":
            return not math.isfinite(value)
        if self.kind == "grad_norm_above":
            return not value <= self.threshold  # a NaN or infinite norm counts as above
        if self.kind == "tokens_per_s_below":
            return value < self.threshold
        previous, self._previous = self._previous, value
        return previous is not None and value > previous

    def describe(self, value: float) -> str:
        return {
            "loss_not_finite": f"training loss is {value}",
            "grad_norm_above": f"gradient norm {value:.4g} above {self.threshold} for {self.consecutive} steps",
            "val_loss_rising": f"validation loss rose for {self.consecutive} evaluations in a row, now {value:.4f}",
            "tokens_per_s_below": f"throughput {value:.1f} tokens/s below {self.threshold}",
        }[self.kind]


def parse_rules(rules: Mapping[str, Mapping] | None) -> list[Rule]:
    """Rules from the `rules:` mapping of callbacks/alerts.yaml (name -> settings), checked."""
    parsed = []
    for name, settings in (rules or {}).items():
        if settings is None:  # `rules.<name>: null` switches a rule off
            continue
        settings = dict(settings)
        where = f"callbacks.alerts.rules.{name}"
        kind = settings.pop("kind", None)
        if kind not in KINDS:
            raise UserError(f"{where}.kind={kind!r} is unknown: use one of {', '.join(KINDS)}")
        actions = settings.pop("actions", ["log"])
        actions = (actions,) if isinstance(actions, str) else tuple(actions)
        unknown = [action for action in actions if action not in ACTIONS]
        if unknown:
            raise UserError(f"{where}.actions has {unknown}: use any of {', '.join(ACTIONS)}")
        extra = set(settings) - {"threshold", "consecutive"}
        if extra:
            raise UserError(f"{where} has unknown settings {sorted(extra)}: use threshold, consecutive, actions")
        threshold = settings.get("threshold")
        if KINDS[kind][1] and threshold is None:
            raise UserError(f"{where} ({kind}) needs a threshold: add {where}.threshold=<number>")
        consecutive = int(settings.get("consecutive", 1))
        if consecutive < 1:
            raise UserError(f"{where}.consecutive={consecutive} must be at least 1")
        parsed.append(Rule(name, kind, None if threshold is None else float(threshold), consecutive, actions))
    return parsed
