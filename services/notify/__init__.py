"""The notify process: delivery of alerts and ITSM records to pagers, chat and ITSM tools, with
a delivery log, retries, escalation and back-sync (docs/delivery.md)."""
