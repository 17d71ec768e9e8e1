"""The one error of what-if work: the input field at fault and what was expected."""

from __future__ import annotations


class WhatIfError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
