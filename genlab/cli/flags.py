"""The flags of `train`, one per config knob: `--<key>`, with the knob's label, formula, bounds or choices.

Values are validated by RunConfig, not by argparse, so the CLI and the app share one set of rules and
messages. Flags of the other model family are refused with the matching flag named (a VAE's encoder
learning rate is --lr-enc, not the GAN discriminator's --lr-d); flags renamed with the role-neutral
names are refused with their new names.
"""
from __future__ import annotations

import argparse
from typing import Any

from genlab.cli.args import UsageError
from genlab.config import KNOBS, LEGACY_FIELDS, Knob, RunConfig, counterpart, get_dotted, knob_for

FAMILY_GROUPS = {None: "settings of both model families", "gan": "GAN settings", "vae": "VAE settings"}


def flag(knob: Knob) -> str:
    return f"--{knob.key}"


def _help(knob: Knob) -> str:
    text = knob.title + (f". {knob.help}" if knob.help else "")
    if knob.bounds and not knob.choices:  # choices show in the metavar
        text += f" ({knob.allowed()}{f'; {knob.off:g} = off' if knob.off is not None else ''})"
    return f"{text} [{knob.path}]".replace("%", "%%")


class _Renamed(argparse.Action):
    """A flag that no longer exists: refuse it, naming the flags that replaced it."""

    def __init__(self, option_strings, dest, new_flags: str = "", **kwargs):
        self.new_flags = new_flags
        super().__init__(option_strings, dest, nargs=0, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        raise UsageError(f"{option_string} was renamed: use {self.new_flags}")


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """Every knob's flag, grouped by model family, each defaulting to None (= not given)."""
    groups = {family: parser.add_argument_group(title) for family, title in FAMILY_GROUPS.items()}
    for knob in KNOBS:
        group = groups[knob.family]
        if knob.kind is bool:
            group.add_argument(flag(knob), dest=knob.path, action=argparse.BooleanOptionalAction, default=None,
                               help=_help(knob))
        else:
            metavar = "{" + ",".join(str(c) for c in knob.choices) + "}" if knob.choices else knob.kind.__name__.upper()
            group.add_argument(flag(knob), dest=knob.path, type=knob.kind, default=None, metavar=metavar,
                               help=_help(knob))
    _add_renamed_flags(parser)


def _add_renamed_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of fields renamed with the role-neutral names (genlab.config.LEGACY_FIELDS) that no
    knob took over (the GAN's --lr-d kept its name; --spectral-norm-d did not): each refused, naming
    its successors."""
    taken = {flag(knob) for knob in KNOBS}
    for old, new_by_family in LEGACY_FIELDS.items():
        new_knobs = [(family, knob_for(new)) for family, new in new_by_family.items()]
        old_name = old.split(".")[1].replace("_", "-")
        prefixes = ("--", "--no-") if new_knobs[0][1].kind is bool else ("--",)
        for prefix in prefixes:
            if prefix + old_name not in taken:
                new_flags = " or ".join(f"{prefix}{knob.key} ({family.upper()})" for family, knob in new_knobs)
                parser.add_argument(prefix + old_name, action=_Renamed, new_flags=new_flags, dest=argparse.SUPPRESS)


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """{dotted config field: value} for every flag given on the command line."""
    return {knob.path: getattr(args, knob.path) for knob in KNOBS if getattr(args, knob.path, None) is not None}


def check_family(flags: dict[str, Any], family: str) -> None:
    """UsageError for a flag of the other model family, naming this family's matching flag if any."""
    for path in flags:
        knob = knob_for(path)
        if knob.family in (None, family):
            continue
        twin = counterpart(knob)
        network = f" (the {knob.acts_on}'s)" if knob.acts_on else ""
        instead = f": use {flag(twin)} (the {twin.acts_on}'s)" if twin is not None else ""
        raise UsageError(f"{flag(knob)} is a {knob.family.upper()} setting{network} and this run is a "
                         f"{family.upper()}{instead}")


def flag_words(knob: Knob, value: Any) -> list[str]:
    """The command-line words that set `knob` to `value` (`--no-<key>` for a false switch)."""
    if knob.kind is bool:
        return [flag(knob) if value else f"--no-{knob.key}"]
    return [flag(knob), repr(value) if isinstance(value, float) else str(value)]


def command_flags(config: RunConfig) -> list[str]:
    """The flags that make `config` with today's code: its data set and family, then every knob of that
    family whose value differs from the (family, data set) preset (genlab.presets). Recorded with each CLI
    run, so that its command keeps making its config (a test replays every shipped run's)."""
    from genlab.presets import config_for

    family, dataset = config.model.family, config.data.name
    preset = config_for(family, dataset)
    words = flag_words(knob_for("data.name"), dataset) + flag_words(knob_for("model.family"), family)
    for knob in KNOBS:
        value = get_dotted(config, knob.path)
        if knob.family in (None, family) and knob.path not in ("data.name", "model.family") \
                and value != get_dotted(preset, knob.path):
            words += flag_words(knob, value)
    return words
