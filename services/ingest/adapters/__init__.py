"""Ingest adapters: pure translations from each input format to the event contracts.

One module per format (`native`, `alertmanager`, `cloudevents_http`, `pagerduty`, `changes`,
`feedback`); each takes the parsed request body (and headers where the format needs them) and
returns a `Translation`, or raises `AdapterError` whose pointer names the offending field. No
module here does I/O; the HTTP routes publish what they return.
"""

from impactline.ingest.adapters.errors import AdapterError
from impactline.ingest.adapters.result import IngestEvent, Translation, destination

__all__ = ["AdapterError", "IngestEvent", "Translation", "destination"]
