"""Dotted field names ("objective.r1_gamma"): read one from a config, set one in a raw (JSON) dict."""
from __future__ import annotations

from typing import Any

from genlab.config.errors import ConfigError


def get_dotted(config: Any, dotted: str) -> Any:
    """config.objective.r1_gamma for "objective.r1_gamma"."""
    node = config
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def set_dotted(raw: dict, dotted: str, value: Any) -> None:
    """raw["objective"]["r1_gamma"] = value for "objective.r1_gamma", creating missing sections; whether
    the field exists is for RunConfig.from_dict to say."""
    node = raw
    *parents, leaf = dotted.split(".")
    for part in parents:
        if not isinstance(node.setdefault(part, {}), dict):
            raise ConfigError(part, node[part], "must be a JSON object")
        node = node[part]
    node[leaf] = value
