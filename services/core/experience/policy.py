"""The knobs of experience tracking: XLA windows, SLO period, burn-rate rules, bucket sizes.

Every knob has a default; `docs/scoring.md` (section 9) explains each one and the figures they
give.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from impactline.core.scoring import (
    DEFAULT_BURN_RATE_RULES,
    DEFAULT_WEIGHTS,
    BurnRateRule,
    XlaWeights,
)

DEFAULT_WINDOWS: tuple[timedelta, ...] = (
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=7),
    timedelta(days=30),
)
DEFAULT_SLO_PERIOD = timedelta(days=30)
# Two minutes of full outage (four of degradation) before error-budget burn counts as evidence:
# below that, a blip on a strict SLO would page on arithmetic alone.
DEFAULT_MIN_BAD = timedelta(minutes=2)


class PolicyError(ValueError):
    """An experience policy that cannot work; the message names the knob."""


@dataclass(frozen=True, slots=True)
class ExperiencePolicy:
    """How experience is measured.

    `degraded_badness` is the share of a minute in `degraded` that counts as a bad minute (a
    minute `down` counts fully, `unknown` minutes are left out of the count). `min_bad` is the
    bad time a burn-rate rule's long window must hold before the rule fires or its burn rate
    raises urgency. Health time and feedback are kept in `fine_bucket`s for the last
    `fine_span` and in `coarse_bucket`s up to the longest window, so memory stays bounded
    whatever happens. An XLA window is reported periodically at most once per
    `window / report_steps`.
    """

    windows: tuple[timedelta, ...] = DEFAULT_WINDOWS
    slo_period: timedelta = DEFAULT_SLO_PERIOD
    rules: tuple[BurnRateRule, ...] = DEFAULT_BURN_RATE_RULES
    weights: XlaWeights = field(default=DEFAULT_WEIGHTS)
    min_bad: timedelta = DEFAULT_MIN_BAD
    degraded_badness: float = 0.5
    fine_bucket: timedelta = timedelta(minutes=1)
    fine_span: timedelta = timedelta(hours=6)
    coarse_bucket: timedelta = timedelta(hours=1)
    report_steps: int = 60

    def __post_init__(self) -> None:
        if not self.windows:
            raise PolicyError("windows: expected at least one XLA window")
        for window in (*self.windows, self.slo_period):
            if window <= timedelta(0):
                raise PolicyError(f"windows: expected positive durations, got {window}")
        if len(set(self.windows)) != len(self.windows):
            raise PolicyError("windows: each XLA window may be listed once")
        if self.min_bad < timedelta(0):
            raise PolicyError(f"min_bad: expected zero or more, got {self.min_bad}")
        if not 0.0 <= self.degraded_badness <= 1.0:
            raise PolicyError(f"degraded_badness: expected 0 to 1, got {self.degraded_badness}")
        for name in ("fine_bucket", "coarse_bucket"):
            size: timedelta = getattr(self, name)
            if size < timedelta(seconds=1) or size.total_seconds() % 1:
                raise PolicyError(f"{name}: expected whole seconds, at least 1, got {size}")
        if self.coarse_bucket.total_seconds() % self.fine_bucket.total_seconds():
            raise PolicyError("coarse_bucket: expected a whole multiple of fine_bucket")
        if self.fine_span < timedelta(0):
            raise PolicyError(f"fine_span: expected zero or more, got {self.fine_span}")
        if self.report_steps < 1:
            raise PolicyError(f"report_steps: expected 1 or more, got {self.report_steps}")

    @property
    def retention(self) -> timedelta:
        """How far back anything is kept: the longest window any figure looks at."""
        return max(*self.windows, self.slo_period, *(rule.long_window for rule in self.rules))

    def report_step(self, window: timedelta) -> timedelta:
        return window / self.report_steps


def iso_duration(span: timedelta) -> str:
    """ISO 8601 form of a window: `PT1H`, `P1D`, `P30D`, `PT5M`, `PT90S`."""
    seconds = span.total_seconds()
    if seconds > 0 and seconds % 86400 == 0:
        return f"P{int(seconds // 86400)}D"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    fraction = seconds - whole
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if secs or fraction or text == "PT":
        text += f"{secs + fraction:g}S"
    return text


def span_phrase(span: timedelta) -> str:
    """How a window reads in a sentence: `5 min`, `1 h`, `24 h`, `7 days`, `30 days`."""
    seconds = span.total_seconds()
    if seconds >= 2 * 86400 and seconds % 86400 == 0:
        return f"{int(seconds // 86400)} days"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


def rule_key(rule: BurnRateRule) -> str:
    """A stable name for a rule's window pair, for dedup keys: `1h-5m`, `3d-6h`."""
    return f"{_short(rule.long_window)}-{_short(rule.short_window)}"


def _short(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
