"""The one error every bad configuration value raises, and the run-name rule (a run name is a folder)."""
from __future__ import annotations

import re
from typing import Any

RUN_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field, the value and what is allowed."""

    def __init__(self, field_name: str, value: Any, allowed: str):
        self.field, self.value, self.allowed = field_name, value, allowed
        super().__init__(f"{field_name}={value!r} is invalid: {allowed}")

    def __reduce__(self):
        # pickled with its three parts (a worker process sends it to the server), not the joined message
        return type(self), (self.field, self.value, self.allowed)


def check_run_name(name: Any) -> str:
    """A run name is a folder name: letters, digits, '.', '_', '-', starting with a letter or digit."""
    if not isinstance(name, str) or not RUN_NAME_PATTERN.match(name) or name in (".", ".."):
        raise ConfigError(
            "name", name, "must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name
