"""What-if: the impact of a failure before it happens, scored by the live engine's own code.

`simulate` plays CI states through the correlation and impact processors the stream workers
run; `window_cost` scores many candidate windows quickly with the engine's accrual and reading
functions; `assess_change` answers a change advisory board; `maintenance` checks recurring
maintenance windows against the business calendars.
"""

from impactline.core.whatif.errors import WhatIfError
from impactline.core.whatif.model import WhatIfModel
from impactline.core.whatif.periods import PeriodSpan, periods_crossed
from impactline.core.whatif.simulation import (
    Condition,
    CurvePoint,
    ServiceOutlook,
    Simulation,
    simulate,
)

__all__ = [
    "Condition",
    "CurvePoint",
    "PeriodSpan",
    "ServiceOutlook",
    "Simulation",
    "WhatIfError",
    "WhatIfModel",
    "periods_crossed",
    "simulate",
]
