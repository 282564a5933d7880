"""The `check` primitive of jax.experimental.checkify.

`checkify.checkify(f)` removes every `check` (it is a JAX transformation:
the error becomes arrays computed by ordinary primitives), so a converted
checkified function never reaches this rule. A `check` that does reach it
was not functionalized:
  * `checkify.debug_check` (debug=True): a no-op, as in jax.jit;
  * `checkify.check` (debug=False): jax.jit refuses to lower it with
    checkify's functionalization error, and so do we, with the same error
    and text. (Under the unsafe `jax_experimental_unsafe_xla_runtime_errors`
    flag jax.jit instead embeds a Python callback that raises at run time; a
    converted graph should not hold Python, so that is unsupported here.)
"""
from __future__ import annotations

from typing import Any

from jax2tf_impl import jax_internals as ji
from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext


@register(ji.check_p)
def _check(ctx: RuleContext, *args: Any, err_tree: Any, debug: bool) -> list:
  del args, err_tree
  if debug:
    return []
  if ji.xla_runtime_errors_enabled():
    raise ctx.unsupported(
        "checkify.check outside checkify.checkify with "
        "jax_experimental_unsafe_xla_runtime_errors: JAX raises from a Python "
        "callback at run time; convert checkify.checkify(f) instead")
  raise ValueError(*ji.checkify_functionalization_error.args)
