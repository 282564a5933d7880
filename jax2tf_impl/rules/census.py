"""The primitive census: every primitive JAX defines, and what we do with it.

`tests/test_primitive_census.py` imports every module under jax._src,
jax.extend and jax.experimental, collects every `Primitive` object, and
requires each one to be

* registered in the rules table (`rules.lookup`), or
* in `VIA_FALLBACK`: JAX's own primitive whose platform-independent lowering
  is `mlir.lower_fun` of a JAX function, interpreted by
  `foreign_primitives` (the census checks that the lowering is still one), or
* in `UNREACHABLE`: it cannot occur in a single-device jaxpr that
  `jax.make_jaxpr` gives us (with the reason), or
* in `UNSUPPORTED`: it can occur, and conversion stops with an
  `UnsupportedPrimitiveError` naming it (with the reason).

A new JAX release that adds a primitive fails the census until someone adds a
rule or an entry here. Keys are primitive names; a name that several distinct
primitive objects share is qualified with the defining module
(`"gather@jax._src.pallas.mosaic.sc_primitives"`); `census_key` computes it.
`docs/primitives.md` is generated from these tables and the registry by
`docs/generate_primitives.py`.
"""
from __future__ import annotations

import collections
import dataclasses
from typing import Any

# --- reasons: cannot occur in a single-device program we trace -------------
AD = ("internal to JAX's AD (linearize): replaced by the custom rule's "
      "output before a jaxpr is final")
STUB = ("compatibility stub kept by JAX; nothing binds it")
STAGED = ("never in a jaxpr: JAX's staging rule records it as closed_call")
RAISES = ("placeholder that raises if evaluated (forward-mode AD of a "
          "custom_vjp function); JAX itself cannot lower or run it")
COLLECTIVE = ("multi-device collective: only meaningful over a mesh axis of "
              "shard_map/pmap with several devices, or the start/done halves of "
              "asynchronous collectives; the single-device forms (psum, pmax, "
              "pmin, all_gather, all_to_all, ppermute, axis_index, psum_scatter "
              "over an axis of size 1) have rules")
MULTIPROCESS = ("multi-process array conversion (jax.experimental."
                "multihost_utils): needs several hosts")
GPU = ("GPU kernel (cuDNN / cuBLASLt / CUDA-only custom call): JAX emits it "
       "only for a GPU backend")
GPU_MOSAIC = "GPU kernel (Mosaic GPU custom call)"
TPU = "TPU kernel (Mosaic TPU custom call)"
PALLAS = ("GPU/TPU kernel language (Pallas/Mosaic/Triton): occurs only inside "
          "a pallas_call kernel body, which is compiled for GPU/TPU")
SPARSE_KERNEL = ("cuSPARSE / CPU sparse kernel bound only inside the "
                 "platform-specific lowering of another sparse primitive, "
                 "never in a jaxpr")
PRNG = ("removed by the PRNG-key pass (prng_keys.physicalize): keys become "
        "their uint32 key data and the operation JAX's own implementation")

# --- reasons: can occur; conversion stops with a clear error ---------------
FFI = ("native kernel registered with XLA (jax.ffi): compiled C++/CUDA code "
       "that a TF graph cannot call")
BUFFER_CB = ("Python callback on device buffers (jax.experimental."
             "buffer_callback): no TF equivalent")
EXPORTED = ("a serialized StableHLO module (jax.export.Exported.call): there "
            "is no jaxpr to interpret; use native_serialization=True")
SCHED = ("jax.experimental.scheduling_groups annotation: not converted yet "
         "(its body would be interpreted as is)")
EDTYPE = ("bitcast to/from an extended dtype (PRNG key data): not rewritten "
          "by the PRNG-key pass; not converted")
SPSOLVE = ("jax.experimental.sparse.linalg.spsolve: its CPU lowering is a "
           "host callback into SciPy; no TF op")
REFS = ("mutable array references (jax.new_ref / jax.freeze and their "
        "internals): not converted yet (would need JAX's state discharge)")
HIJAX = ("experimental high-level types (jax._src.hijax, no public API): "
         "not converted")

# --- interpreted by the generic fallback ------------------------------------
FALLBACK = ("interpreted through its MLIR lowering, mlir.lower_fun of a JAX "
            "function (foreign_primitives)")

UNREACHABLE: dict[str, str] = {
    "custom_lin": AD,
    "all_gather_done": COLLECTIVE,
    "all_gather_reduced_start": COLLECTIVE,
    "all_gather_start": COLLECTIVE,
    "all_to_all_done": COLLECTIVE,
    "all_to_all_start": COLLECTIVE,
    "pbroadcast_done": COLLECTIVE,
    "pbroadcast_start": COLLECTIVE,
    "ppermute_done": COLLECTIVE,
    "ppermute_start": COLLECTIVE,
    "precv": COLLECTIVE,
    "psend": COLLECTIVE,
    "psum_done": COLLECTIVE,
    "psum_invariant_start": COLLECTIVE,
    "psum_start": COLLECTIVE,
    "ragged_all_to_all": COLLECTIVE,
    "reduce_scatter_done": COLLECTIVE,
    "reduce_scatter_start": COLLECTIVE,
    "reduced_vary_cast_p": COLLECTIVE,
    "unreduced_psum_start": COLLECTIVE,
    "unreduced_reduce_scatter_start": COLLECTIVE,
    "cudnn_fusion": GPU,
    "dot_product_attention_bwd": GPU,
    "dot_product_attention_bwd_wrapper": GPU,
    "dot_product_attention_fp8_bwd": GPU,
    "dot_product_attention_fp8_bwd_wrapper": GPU,
    "dot_product_attention_fp8_fwd": GPU,
    "dot_product_attention_fp8_fwd_wrapper": GPU,
    "dot_product_attention_fwd": GPU,
    "dot_product_attention_fwd_wrapper": GPU,
    "fused_call": GPU,
    "rnn_bwd": GPU,
    "rnn_fwd": GPU,
    "scaled_matmul": GPU,
    "scaled_matmul_wrapper": GPU,
    "mosaic_gpu_p": GPU_MOSAIC,
    "global_array_to_host_local_array": MULTIPROCESS,
    "host_local_array_to_global_array": MULTIPROCESS,
    "_copysign": PALLAS,
    "add_dependency": PALLAS,
    "all_reduce_ffs": PALLAS,
    "all_reduce_population_count": PALLAS,
    "async_copy_scales_to_tmem": PALLAS,
    "async_copy_smem_to_tmem": PALLAS,
    "async_copy_sparse_metadata_to_tmem": PALLAS,
    "async_load": PALLAS,
    "async_prefetch": PALLAS,
    "async_store_smem": PALLAS,
    "async_store_tmem": PALLAS,
    "atomic_cas": PALLAS,
    "atomic_rmw": PALLAS,
    "barrier": PALLAS,
    "barrier_arrive": PALLAS,
    "barrier_test": PALLAS,
    "barrier_wait": PALLAS,
    "bitcast@jax._src.pallas.mosaic.primitives": PALLAS,
    "bitcast@jax._src.pallas.mosaic.sc_primitives": PALLAS,
    "commit_group": PALLAS,
    "commit_smem": PALLAS,
    "commit_tmem": PALLAS,
    "copy_gmem_to_smem": PALLAS,
    "copy_smem_to_gmem": PALLAS,
    "core_map": PALLAS,
    "custom_fusion": PALLAS,
    "debug_barrier_p": PALLAS,
    "delay": PALLAS,
    "dma_start": PALLAS,
    "dma_wait": PALLAS,
    "einshape_lo": PALLAS,
    "elementwise_inline_asm_p": PALLAS,
    "emit_pipeline": PALLAS,
    "fusible": PALLAS,
    "gather@jax._src.pallas.mosaic.sc_primitives": PALLAS,
    "get_barrier_semaphore": PALLAS,
    "get_global": PALLAS,
    "griddepcontrol_launch_dependents": PALLAS,
    "griddepcontrol_wait": PALLAS,
    "inline_mgpu_p": PALLAS,
    "jaxpr_call": PALLAS,
    "layout_cast": PALLAS,
    "load@jax._src.pallas.mosaic.sc_primitives": PALLAS,
    "load@jax._src.pallas.mosaic_gpu.primitives": PALLAS,
    "masked_cummax": PALLAS,
    "masked_cummin": PALLAS,
    "masked_cumsum": PALLAS,
    "masked_load": PALLAS,
    "masked_sort": PALLAS,
    "masked_swap": PALLAS,
    "matmul_acc_lhs": PALLAS,
    "matmul_pop": PALLAS,
    "matmul_push_rhs": PALLAS,
    "max_contiguous": PALLAS,
    "mgpu_atomic_store": PALLAS,
    "mpmd_map": PALLAS,
    "multimem_load_reduce": PALLAS,
    "multimem_store": PALLAS,
    "multiple_of": PALLAS,
    "num_programs": PALLAS,
    "pack": PALLAS,
    "pack_dtype": PALLAS,
    "pack_elementwise": PALLAS,
    "pallas_call": PALLAS,
    "parallel_loop": PALLAS,
    "pipeline_body": PALLAS,
    "print_layout": PALLAS,
    "prng_join": PALLAS,
    "prng_random_bits": PALLAS,
    "prng_seed": PALLAS,
    "prng_split": PALLAS,
    "program_id": PALLAS,
    "query_cluster_cancel": PALLAS,
    "reciprocal": PALLAS,
    "remove_memory_space": PALLAS,
    "roll": PALLAS,
    "run_scoped": PALLAS,
    "sc_fetch_and_add": PALLAS,
    "scatter@jax._src.pallas.mosaic.sc_primitives": PALLAS,
    "semaphore_read": PALLAS,
    "semaphore_signal@jax._src.pallas.mosaic_gpu.primitives": PALLAS,
    "semaphore_signal@jax._src.pallas.primitives": PALLAS,
    "semaphore_signal_multicast": PALLAS,
    "semaphore_signal_parallel": PALLAS,
    "semaphore_wait@jax._src.pallas.mosaic_gpu.primitives": PALLAS,
    "semaphore_wait@jax._src.pallas.primitives": PALLAS,
    "set_max_registers_p": PALLAS,
    "stochastic_round": PALLAS,
    "swap@jax._src.pallas.mosaic.sc_primitives": PALLAS,
    "tcgen05_commit_arrive": PALLAS,
    "tcgen05_mma": PALLAS,
    "trace_value": PALLAS,
    "try_cluster_cancel": PALLAS,
    "unique": PALLAS,
    "unpack": PALLAS,
    "unpack_dtype": PALLAS,
    "unpack_elementwise": PALLAS,
    "wait_load_tmem": PALLAS,
    "wait_smem_to_gmem": PALLAS,
    "wgmma": PALLAS,
    "wgmma_accumulator_deref_p": PALLAS,
    "wgmma_accumulator_store_p": PALLAS,
    "wgmma_ref": PALLAS,
    "wgmma_wait": PALLAS,
    "with_memory_space_constraint": PALLAS,
    "random_bits": PRNG,
    "random_fold_in": PRNG,
    "random_gamma": PRNG,
    "random_seed": PRNG,
    "random_split": PRNG,
    "random_unwrap": PRNG,
    "random_wrap": PRNG,
    "unreachable": RAISES,
    "coo_spmm": SPARSE_KERNEL,
    "coo_spmv": SPARSE_KERNEL,
    "csr_spmm": SPARSE_KERNEL,
    "csr_spmv": SPARSE_KERNEL,
    "eval_jaxpr": STAGED,
    "custom_jvp_call_jaxpr": STUB,
    "zeros_like": STUB,
    "tpu_custom_call": TPU,
}
UNSUPPORTED: dict[str, str] = {
    "buffer_callback": BUFFER_CB,
    "from_edtype": EDTYPE,
    "to_edtype": EDTYPE,
    "call_exported": EXPORTED,
    "ffi_call": FFI,
    "box_get": HIJAX,
    "box_set": HIJAX,
    "call_hi_primitive": HIJAX,
    "call_hi_primitive_linearized": HIJAX,
    "log_extend": HIJAX,
    "log_read": HIJAX,
    "new_box": HIJAX,
    "new_log": HIJAX,
    "create_linear": REFS,
    "pin": REFS,
    "unpin": REFS,
    "xla_metadata_call": SCHED,
    "spsolve": SPSOLVE,
}
VIA_FALLBACK: dict[str, str] = {
    "assert_consumed_value": FALLBACK,
    "bcoo_dot_general": FALLBACK,
    "bcoo_dot_general_sampled": FALLBACK,
    "bcoo_extract": FALLBACK,
    "bcoo_fromdense": FALLBACK,
    "bcoo_sort_indices": FALLBACK,
    "bcoo_spdot_general": FALLBACK,
    "bcoo_sum_duplicates": FALLBACK,
    "bcoo_todense": FALLBACK,
    "bcoo_transpose": FALLBACK,
    "bcsr_dot_general": FALLBACK,
    "bcsr_extract": FALLBACK,
    "bcsr_fromdense": FALLBACK,
    "bcsr_todense": FALLBACK,
    "consume": FALLBACK,
    "coo_fromdense": FALLBACK,
    "coo_matmat": FALLBACK,
    "coo_matvec": FALLBACK,
    "coo_todense": FALLBACK,
    "csr_fromdense": FALLBACK,
    "csr_matmat": FALLBACK,
    "csr_matvec": FALLBACK,
    "csr_todense": FALLBACK,
    "remat_opt": FALLBACK,
    "scaled_dot": FALLBACK,
    "todense": FALLBACK,
}


@dataclasses.dataclass(frozen=True)
class CensusEntry:
  """One primitive object JAX defines, and how the converter treats it."""
  key: str            # census_key: the name, qualified when names collide
  name: str
  defined_at: str     # module.attribute that holds it
  rule: str | None    # module of its rule, when registered
  has_lower_fun: bool


def census_key(name: str, defined_at: str, counts: dict[str, int]) -> str:
  """The table key for a primitive: its name, or `name@module` when several
  primitive objects share the name."""
  if counts.get(name, 0) <= 1:
    return name
  return f"{name}@{defined_at.rsplit('.', 1)[0]}"


def take_census() -> list[CensusEntry]:
  """Imports all of JAX's modules and lists every primitive object.

  Heavy (imports Pallas, sparse, jax2tf, ...): run it in a fresh process
  (the census test and docs/generate_primitives.py do)."""
  from jax2tf_impl import jax_internals  # pylint: disable=g-import-not-at-top
  from jax2tf_impl import rules  # pylint: disable=g-import-not-at-top
  jax_internals.import_all_jax_modules()
  found = jax_internals.jax_primitive_objects()
  counts = collections.Counter(p.name for p, _ in found)
  out = []
  for prim, where in found:
    rule = rules.lookup(prim)
    out.append(CensusEntry(
        key=census_key(prim.name, where, counts), name=prim.name,
        defined_at=where,
        rule=None if rule is None else rule.__module__,
        has_lower_fun=jax_internals.lower_fun_of(prim) is not None))
  return out


def classify(entry: CensusEntry, pending: dict[str, str] | None = None
             ) -> tuple[str, str]:
  """(category, reason) for one census entry; category "missing" when the
  tables have no decision for it."""
  if entry.rule is not None:
    return "registered", entry.rule
  for category, table in (("via_fallback", VIA_FALLBACK),
                          ("unreachable", UNREACHABLE),
                          ("unsupported", UNSUPPORTED),
                          ("pending", pending or {})):
    if entry.key in table:
      return category, table[entry.key]
  return "missing", ""


def as_json(entries: list[CensusEntry]) -> list[dict[str, Any]]:
  return [dataclasses.asdict(e) for e in entries]


_SECTIONS = (
    ("registered", "Registered rules",
     "Converted by a rule of the rules table (module shown)."),
    ("via_fallback", "Interpreted through their lowering",
     "No rule: the platform-independent MLIR lowering is `mlir.lower_fun` of "
     "a JAX function, which `foreign_primitives` traces at the equation's "
     "types and interprets with the rules."),
    ("unsupported", "Can occur, not converted",
     "Conversion stops with an `UnsupportedPrimitiveError` naming the "
     "primitive."),
    ("unreachable", "Cannot occur in a single-device program we trace", ""),
    ("missing", "No rule and no decision yet",
     "New in this JAX version, or a rule being added: the census test fails "
     "until each has a rule or an entry in `jax2tf_impl/rules/census.py`."),
)


def markdown(entries: list[CensusEntry]) -> str:
  """docs/primitives.md: every JAX primitive, by category, with reasons."""
  import jax  # pylint: disable=g-import-not-at-top
  by_cat: dict[str, list[tuple[CensusEntry, str]]] = collections.defaultdict(list)
  for e in entries:
    cat, reason = classify(e)
    by_cat[cat].append((e, reason))
  lines = [
      "# JAX primitives and how jax2tf_impl converts them",
      "",
      "<!-- Generated by docs/generate_primitives.py from "
      "jax2tf_impl/rules/census.py and the rules registry; do not edit. -->",
      "",
      f"JAX {jax.__version__}: {len(entries)} primitive objects under "
      "jax._src, jax.extend and jax.experimental "
      "(`tests/test_primitive_census.py` checks this table).",
      "",
      "| category | primitives |",
      "|---|---|",
  ]
  for cat, title, _ in _SECTIONS:
    lines.append(f"| {title} | {len(by_cat.get(cat, []))} |")
  lines.append("")
  lines.append("Primitives defined outside JAX (Equinox, Flax, user code) "
               "without a rule are interpreted the same way as the second "
               "group, through their `mlir.lower_fun` lowering or their "
               "impl rule (see `jax2tf_impl/foreign_primitives.py`).")
  for cat, title, blurb in _SECTIONS:
    rows = sorted(by_cat.get(cat, []), key=lambda er: er[0].key)
    if not rows:
      continue
    lines += ["", f"## {title} ({len(rows)})", ""]
    if blurb:
      lines += [blurb, ""]
    if cat == "registered":
      lines += ["| primitive | rule module |", "|---|---|"]
      lines += [f"| `{e.key}` | `{r.rsplit('.', 1)[-1]}` |" for e, r in rows]
    elif cat == "missing":
      lines += ["| primitive | defined at |", "|---|---|"]
      lines += [f"| `{e.key}` | `{e.defined_at}` |" for e, _ in rows]
    else:
      groups: dict[str, list[str]] = collections.defaultdict(list)
      for e, r in rows:
        groups[r].append(e.key)
      lines += ["| reason | primitives |", "|---|---|"]
      for r, keys in sorted(groups.items(), key=lambda kv: kv[1][0]):
        lines.append(f"| {r} | {', '.join(f'`{k}`' for k in keys)} |")
  return "\n".join(lines) + "\n"
