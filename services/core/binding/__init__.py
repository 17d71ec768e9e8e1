"""CI binding: find the catalog CI an event is about from the names monitoring uses.

Pure: a `Binder` is built from one catalog version (its CI aliases and binding rules) and
answers `bind(Subject)` with `Bound` (the CI, its correlation domain and the rule that matched)
or `Unbound` (why not, and the closest CI ids).
"""

from impactline.core.binding.engine import KEY_RULE, Attempt, Binder, Bound, Outcome, Unbound
from impactline.core.binding.normalise import normalise, short_name, strip_port, url_host
from impactline.core.binding.rules import Subject

__all__ = [
    "KEY_RULE",
    "Attempt",
    "Binder",
    "Bound",
    "Outcome",
    "Subject",
    "Unbound",
    "normalise",
    "short_name",
    "strip_port",
    "url_host",
]
