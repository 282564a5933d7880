"""One-device annotations that leave values unchanged (shard_alike, stage,
custom_partitioning), no-output markers (dce_sink, inspect_array_sharding)
and ordering tokens, compared with jax.jit in four modes."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax
from jax.experimental.custom_partitioning import custom_partitioning
from jax.experimental.shard_alike import shard_alike

from support.jit_compare import MODES4, assert_matches_jit

X = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)


def _shard_alike(x):
  a, b = shard_alike(jnp.sin(x), x * 2)
  return a + b


def _cp_impl(x):
  return jnp.cumsum(x, axis=0) * 3


_cp_body = custom_partitioning(_cp_impl)
_cp_body.def_partition(
    partition=lambda mesh, args, result: (
        mesh, _cp_impl, args[0].sharding, (args[0].sharding,)),
    sharding_rule="i j -> i j")


def _custom_partitioned(x):
  return _cp_body(x) - 1


def _inspect(x):
  jax.debug.inspect_array_sharding(x, callback=lambda s: None)
  return x * x


def _tokens(x):
  token = lax.create_token()
  lax.after_all(token, token)
  return x + 1


CASES = {"shard_alike": _shard_alike, "custom_partitioning": _custom_partitioned,
         "inspect_array_sharding": _inspect, "tokens": _tokens}


@pytest.mark.parametrize("mode", MODES4)
@pytest.mark.parametrize("name", sorted(CASES))
def test_annotation(name, mode):
  assert_matches_jit(CASES[name], mode, X)
