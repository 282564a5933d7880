"""JAX's own primitive harnesses, converted and compared with JAX, in five modes.

Modes: eager, graph (tf.function), jit (tf.function(jit_compile=True)),
noxla (tf.function with enable_xla=False: the graph must hold no Xla* op) and
noxla_jit (the same under jit_compile=True).

CI runs a sample per group, drawn anew each day (seed in the pytest header);
JAX2TF_IMPL_FULL=1 runs them all.
"""
import pytest

from support import harness as hs

_HARNESSES = hs.select_harnesses()


@pytest.mark.parametrize("mode", hs.MODES)
@pytest.mark.parametrize("harness", _HARNESSES, ids=lambda h: h.fullname)
def test_harness(request, harness, mode):
  enable_xla = mode not in ("noxla", "noxla_jit")
  request.node.harness_info = dict(group=harness.group_name,
                                   name=harness.fullname, mode=mode,
                                   enable_xla=enable_xla)
  why = hs.jax_unimplemented_on_cpu(harness)
  if why:
    pytest.skip(f"JAX itself does not run this on CPU: {why}")
  try:
    hs.jax_result(harness)
  except Exception as e:  # JAX cannot run it here: nothing to compare with.
    pytest.skip(f"JAX itself fails on CPU: {type(e).__name__}: {str(e)[:200]}")
  lim = hs.find_limitation(harness, mode, enable_xla)
  if lim is not None:
    request.applymarker(pytest.mark.xfail(reason=lim.reason, strict=False))
  try:
    notes = hs.check_harness(harness, mode)
  except hs.BeyondJaxTolerance as e:
    if lim is not None:
      raise
    pytest.xfail(f"beyond JAX's tolerance (measured): {e}")
  if notes:  # passed at JAX's per-harness override: keep the measured error
    request.node.harness_info["note"] = "; ".join(notes)
