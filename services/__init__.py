"""impactline: CI telemetry in, business experience-impact events out."""

__version__ = "0.1.0"
