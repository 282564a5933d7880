"""One seed for every sampled suite (harnesses, API sweep, fuzzing).

CI runs a different sample each day, reproducibly: the seed is today's date
(UTC, YYYYMMDD) unless JAX2TF_IMPL_SEED is set; it is printed in pytest's
header, so any CI log says how to rerun the same sample locally:
    JAX2TF_IMPL_SEED=<seed> python -m pytest ...
JAX2TF_IMPL_FULL=1 turns sampling off.
"""
from __future__ import annotations

import datetime
import os
import random
from typing import Any, Callable, Hashable, Sequence

FULL = os.environ.get("JAX2TF_IMPL_FULL", "") not in ("", "0")


def seed() -> int:
  value = os.environ.get("JAX2TF_IMPL_SEED")
  if value:
    return int(value)
  return int(datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d"))


def stratified_sample(items: Sequence[Any], k: int,
                      stratum: Callable[[Any], Hashable], salt: str) -> list[Any]:
  """k items (all with FULL or if there are no more), spread over the strata
  round-robin, each stratum shuffled by (seed, salt): the same call gives
  the same sample on every xdist worker and for the same seed."""
  items = list(items)
  if FULL or len(items) <= k:
    return items
  rng = random.Random(f"{seed()}:{salt}")
  groups: dict[Hashable, list[Any]] = {}
  for item in items:
    groups.setdefault(stratum(item), []).append(item)
  for key in sorted(groups, key=str):
    rng.shuffle(groups[key])
  order = sorted(groups, key=str)
  rng.shuffle(order)
  picked: list[Any] = []
  while len(picked) < k:
    for key in order:
      if groups[key] and len(picked) < k:
        picked.append(groups[key].pop())
  return picked
