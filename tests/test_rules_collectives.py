"""shard_map over a one-device mesh with its collectives, and psum/pmax/pmin
under jax.vmap(axis_name=...): compared with jax.jit in four modes."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax
from jax.sharding import PartitionSpec as P

from support.jit_compare import MODES4, assert_matches_jit, run_converted

MESH = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("i",))
MESH2 = jax.sharding.Mesh(np.array(jax.devices()[:1]).reshape(1, 1),
                          ("i", "j"))
X = np.arange(8.0, dtype=np.float32).reshape(2, 4) - 3.0


def _body(x):
  a = lax.psum(x, "i")
  b = lax.pmax(x, "i") * lax.pmin(x, "i")
  d = lax.all_gather(x, "i", tiled=True, axis=1)
  e = lax.axis_index("i")
  f = lax.ppermute(x, "i", [(0, 0)])
  g = lax.psum_scatter(x, "i", tiled=True)
  h = lax.all_to_all(x, "i", 0, 1, tiled=True)
  m = lax.pmean(x, "i")
  return a + b + d + f + g + h + m + e, lax.all_gather(x, "i", axis=1)


COLLECTIVES = {
    "mixed": lambda x: jax.shard_map(
        _body, mesh=MESH, in_specs=P("i"), out_specs=(P("i"), P("i")))(x),
    "psum_replicated_out": lambda x: jax.shard_map(
        lambda v: lax.psum(v * 2, "i"), mesh=MESH, in_specs=P(None, "i"),
        out_specs=P())(x),
    "ppermute_empty": lambda x: jax.shard_map(
        lambda v: lax.ppermute(v, "i", []), mesh=MESH, in_specs=P("i"),
        out_specs=P("i"))(x),
    "axis_index_2d": lambda x: jax.shard_map(
        lambda v: v + lax.axis_index("j") + lax.psum(1, ("i", "j")),
        mesh=MESH2, in_specs=P("i", "j"), out_specs=P("i", "j"))(x),
    "all_gather_untiled": lambda x: jax.shard_map(
        lambda v: lax.all_gather(v, "i", axis=0), mesh=MESH,
        in_specs=P("i"), out_specs=P("i"))(x),
    "reduce_scatter_untiled": lambda x: jax.shard_map(
        lambda v: lax.psum_scatter(v[None], "i", scatter_dimension=0),
        mesh=MESH, in_specs=P("i"), out_specs=P("i"))(x),
    "all_to_all_untiled": lambda x: jax.shard_map(
        lambda v: lax.all_to_all(v[None], "i", 0, 2), mesh=MESH,
        in_specs=P("i"), out_specs=P("i"))(x),
    "inside_jit_and_scan": lambda x: jax.jit(lambda y: lax.scan(
        lambda c, r: (c + jax.shard_map(
            lambda v: lax.psum(v, "i"), mesh=MESH, in_specs=P(),
            out_specs=P(), check_vma=False)(r), c), jnp.zeros(4), y))(x),
}


@pytest.mark.parametrize("mode", MODES4)
@pytest.mark.parametrize("case", sorted(COLLECTIVES))
def test_shard_map_one_device(case, mode):
  assert_matches_jit(COLLECTIVES[case], mode, X)


def test_shard_map_gradient():
  import tensorflow as tf
  import jax2tf_impl
  f = lambda x: jnp.sum(jax.shard_map(
      lambda v: lax.psum(jnp.sin(v), "i") * lax.all_gather(v, "i", tiled=True),
      mesh=MESH, in_specs=P("i"), out_specs=P("i"))(x))
  x = tf.constant(X)
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = jax2tf_impl.convert(f)(x)
  np.testing.assert_allclose(tape.gradient(y, x).numpy(),
                             jax.jit(jax.grad(f))(X), rtol=1e-6)


def test_shard_map_larger_mesh_is_an_error():
  mesh = jax.sharding.AbstractMesh((4,), ("i",))
  f = lambda x: jax.shard_map(lambda v: lax.psum(v, "i"), mesh=mesh,
                              in_specs=P(None, "i"), out_specs=P())(x)
  with pytest.raises(NotImplementedError, match="size > 1"):
    run_converted(f, "eager", X)


VMAPPED = {
    "psum": lambda v: v - lax.psum(v, "b"),
    "pmax": lambda v: v * lax.pmax(v, "b"),
    "pmin": lambda v: v + lax.pmin(v, "b"),
    "pmean": lambda v: lax.pmean(v, "b"),
    "psum_tuple": lambda v: lax.psum((v, (v > 0).astype(jnp.int32)), "b"),
    "axis_index": lambda v: v * lax.axis_index("b"),
    "all_gather": lambda v: lax.all_gather(v, "b"),
    "ppermute": lambda v: lax.ppermute(v, "b", [(0, 1), (1, 2), (2, 0)]),
}


@pytest.mark.parametrize("mode", MODES4)
@pytest.mark.parametrize("case", sorted(VMAPPED))
def test_collectives_under_vmap(case, mode):
  x = np.array([[1.0, -2.0, np.nan, 0.0], [3.0, 5.0, 1.0, -0.0],
                [-1.0, 2.0, 2.0, 7.0]], np.float32)
  f = jax.vmap(VMAPPED[case], axis_name="b")
  assert_matches_jit(f, mode, x)


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_nested_vmap_psum_over_both(mode):
  f = jax.vmap(jax.vmap(lambda v: lax.psum(v, ("a", "b")), axis_name="b"),
               axis_name="a")
  assert_matches_jit(f, mode, np.arange(24, dtype=np.int32).reshape(2, 3, 4))
