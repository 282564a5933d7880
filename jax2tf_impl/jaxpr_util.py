"""Small helpers for walking jaxprs, shared by the interpreter and the
PRNG-key pass."""
from __future__ import annotations

from typing import Any, Iterator

from jax.extend import core


def sub_jaxprs(params: dict[str, Any]) -> Iterator[core.Jaxpr]:
  """The jaxprs an equation carries in its params (cond branches, while
  bodies, scan/pjit/custom_* functions), open or closed, as open jaxprs."""
  for value in params.values():
    items = value if isinstance(value, (tuple, list)) else (value,)
    for item in items:
      if isinstance(item, core.ClosedJaxpr):
        yield item.jaxpr
      elif isinstance(item, core.Jaxpr):
        yield item
