"""The Dirac lab's trajectories, kept by setting so that a slider move or a click rarely waits.

A request that misses computes a whole batch of settings at once (the page passes every position of
the slider being moved, or every click target on the plane: about the price of one setting, see
dynamics.trajectories_of); a request for fewer steps than stored is a prefix of the stored runs; one for
more continues them, together with the batch's other stored runs of the same length (dynamics.extend),
so that their next requests hit. Thread-safe: one cache serves every browser tab of a server.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from genlab.theory.dirac import DiracGame
from genlab.theory.dynamics import Setting, Trajectories, extend, trajectories_of

Key = tuple[str, str, Setting]  # loss, regularizer, setting


class TrajectoryCache:
    def __init__(self, max_settings: int = 2000):
        self.max_settings = max_settings  # ~16 kB each at 500 steps
        self._runs: OrderedDict[Key, Trajectories] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, game: DiracGame, start: tuple[float, float], h: float, steps: int,
            batch: Sequence[Setting] = ()) -> Trajectories:
        """The runs of `game` from `start` with step size h for `steps` steps; on a miss, the settings
        in `batch` are computed alongside and kept."""
        setting = Setting(*start, game.strength, h)
        kind = (game.loss, game.regularizer)
        with self._lock:
            runs = self._runs.get((*kind, setting))
            if runs is None:
                computed = trajectories_of(game, list(dict.fromkeys([*map(Setting._make, batch), setting])), steps)
                for other, other_runs in computed.items():
                    self._keep((*kind, other), other_runs)
                runs = computed[setting]
            elif runs.steps < steps:  # continue the batch's stored runs that stopped where this one did
                short = {other: self._runs[(*kind, other)] for other in [*map(Setting._make, batch), setting]
                         if (*kind, other) in self._runs and self._runs[(*kind, other)].steps == runs.steps}
                for other, longer in extend(game, short, steps).items():
                    self._keep((*kind, other), longer)
                runs = self._runs[(*kind, setting)]
            self._keep((*kind, setting), runs)  # the most recently used: kept longest
            return runs.first(steps)

    def _keep(self, key: Key, runs: Trajectories) -> None:
        self._runs[key] = runs
        self._runs.move_to_end(key)
        while len(self._runs) > self.max_settings:
            self._runs.popitem(last=False)

    def __len__(self) -> int:
        return len(self._runs)
