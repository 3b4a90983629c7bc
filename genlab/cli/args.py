"""What every command's argument handling shares: the one-line usage error and integer ranges."""
from __future__ import annotations

import argparse

PROG = "genlab"
ENV_CHECKPOINT_DIR = "GENLAB_CHECKPOINT_DIR"  # the app's runs folder, and the CLI's --root by default
DEFAULT_ROOT = "checkpoints"  # genlab.runs.DEFAULT_ROOT (imported without torch here)


class UsageError(Exception):
    """Bad command-line input; reported as one line with exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage + message; we want one line
        raise UsageError(message)


def int_in(low: int, high: int):
    """An argparse type: an integer in [low, high]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not in [{low}, {high}]")
        return value

    return parse
