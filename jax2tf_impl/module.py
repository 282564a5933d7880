"""`jax2tf_impl.Module`: JAX params + methods -> a tf.Module to save and serve.

Every user of a converter writes the same glue: a tf.Module holding the
parameters as tf.Variables, one tf.function per method with an input
signature, SaveOptions(experimental_custom_gradients=True), and serving
signatures with named inputs and outputs. This module is that glue, on our
converter (orbax-export's `JaxModule` + `ServingConfig` do the same on native
jax2tf, i.e. one XlaCallModule op).

    module = jax2tf_impl.Module(
        params,
        {"predict": jax2tf_impl.Method(predict, [x], polymorphic_shapes=["(b, ...)"]),
         "loss": jax2tf_impl.Method(loss, [x, y], polymorphic_shapes=["(b, ...)"] * 2)},
        trainable=lambda path, leaf: "batch_stats" not in path)
    module.save("/tmp/model")   # serving_default (= predict), predict, loss

`params` is any JAX pytree (a Flax variables dict, an eqx.Module, Haiku
params, ...). Its array leaves become tf.Variables; its other leaves
(functions, strings: see `tracing.is_array_leaf`) stay Python values. A
method is `fn(params, *args)`; its tf.function takes `*args` and reads the
variables, so a GradientTape sees the parameters and the gradient is the
converted JAX VJP (also after reloading the SavedModel, without JAX).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf
from jax import tree_util

from jax2tf_impl import jax_internals as ji
from jax2tf_impl import saved_model
from jax2tf_impl import tracing
from jax2tf_impl.api import convert
from jax2tf_impl.export import signatures

# Attributes of tf.Module that a method name must not shadow.
_RESERVED = frozenset(dir(tf.Module)) | {
    "params", "methods", "save", "serving_signatures", "param_paths",
    "param_variables", "trainable_param_variables"}


@dataclasses.dataclass
class Method:
  """One method of a `Module`: `fn(params, *args)` and its inputs.

  Attributes:
    fn: the JAX function; its first argument is the params pytree.
    example_args: one example per positional argument after params (arrays,
      `jax.ShapeDtypeStruct`s or tf.TensorSpecs; dicts/lists/tuples of them).
      They give dtypes and the static dimensions.
    polymorphic_shapes: one spec per argument in `example_args` (jax2tf
      syntax, e.g. "(b, 28, 28, 1)"), or None for static shapes.
    constraints: `polymorphic_constraints` of `convert`.
    input_names: names of the flat inputs in serving signatures (default:
      the keys when the only argument is a dict, else input_0, input_1, ...).
    output_names: names of the flat outputs (default: the keys when the
      result is a dict, else output_0, output_1, ...).
    updates_params: `fn` returns `(new_params, result)`: the tf.function
      assigns new_params to the variables and returns `result` (a train
      step that runs in TF).
    signature: whether the method gets a serving signature of its name.
  """
  fn: Callable[..., Any]
  example_args: Sequence[Any]
  polymorphic_shapes: Sequence[Any] | None = None
  constraints: Sequence[str] = ()
  input_names: Sequence[str] | None = None
  output_names: Sequence[str] | None = None
  updates_params: bool = False
  signature: bool = True


@dataclasses.dataclass
class ServingConfig:
  """An extra serving signature: TF pre-processing -> a method -> TF
  post-processing (as orbax-export's ServingConfig).

  Attributes:
    signature_key: the signature's name (or several names for one function).
    method: the `Module` method it calls.
    input_signature: named tf.TensorSpecs of the serving inputs (e.g. a
      tf.string image); default: the method's flat inputs.
    preprocessor: TF function from the serving inputs to the method's
      arguments (a tuple, or one value for a one-argument method).
    postprocessor: TF function from the method's result to the serving
      outputs (a dict of named tensors, or a tensor / list of tensors).
  """
  signature_key: str | Sequence[str]
  method: str
  input_signature: Sequence[tf.TensorSpec] | None = None
  preprocessor: Callable[..., Any] | None = None
  postprocessor: Callable[..., Any] | None = None


def _example_array(x: Any) -> Any:
  """An array standing for an example argument (only shape/dtype are used)."""
  if isinstance(x, tf.TensorSpec):
    return np.zeros([1 if d is None else d for d in x.shape],
                    x.dtype.as_numpy_dtype)
  if hasattr(x, "shape") and hasattr(x, "dtype") and not hasattr(x, "__array__"):
    return np.zeros(x.shape, x.dtype)  # jax.ShapeDtypeStruct
  return x


def trainable_mask(params: Any, trainable: Any) -> list[bool]:
  """One bool per leaf of `params` (static leaves included) from `trainable`:
  a bool, a predicate `(path, leaf) -> bool` on the keystr path (e.g.
  "['params']['Dense_0']['kernel']"), or a pytree of bools that is a
  prefix of `params`."""
  with_paths = tree_util.tree_flatten_with_path(params)[0]
  if isinstance(trainable, bool):
    return [trainable] * len(with_paths)
  if callable(trainable):
    return [bool(trainable(tree_util.keystr(p), leaf)) for p, leaf in with_paths]
  try:
    return [bool(b) for b in ji.broadcast_prefix(trainable, params)]
  except ValueError as e:
    raise ValueError(f"trainable must be a bool, a predicate (path, leaf) or "
                     f"a pytree prefix of params: {e}") from e


def _variable_name(path: Any) -> str:
  """'params/Dense_0/kernel' for the path ['params']['Dense_0']['kernel']."""
  parts = []
  for k in path:
    k = getattr(k, "key", getattr(k, "idx", getattr(k, "name", k)))
    parts.append("".join(c if c.isalnum() or c in "_-." else "_"
                         for c in str(k)) or "_")
  return "/".join(parts) or "param"


def to_variables(params: Any, trainable: Any = True) -> Any:
  """`params` with each array leaf a tf.Variable (trainable per
  `trainable_mask`); other leaves (functions, strings, Python scalars) are
  kept as they are."""
  leaves, treedef = tree_util.tree_flatten(params)
  mask = trainable_mask(params, trainable)
  paths = [p for p, _ in tree_util.tree_flatten_with_path(params)[0]]
  out = []
  for leaf, train, path in zip(leaves, mask, paths):
    if not tracing.is_array_leaf(leaf) or tracing.is_python_scalar(leaf):
      # Python numbers stay Python values (configuration such as a pooling
      # layer's `init`, as eqx.is_array partitions them).
      out.append(leaf)
      continue
    out.append(tf.Variable(np.asarray(leaf), trainable=train,
                           name=_variable_name(path)))
  return tree_util.tree_unflatten(treedef, out)


class _Plain:
  """Holds Python state on a tf.Module without TF wrapping or tracking it
  (tf.Module turns dict/list attributes into trackable wrappers)."""

  def __init__(self, **kw: Any):
    self.__dict__.update(kw)


class Module(tf.Module):
  """JAX params and methods as a tf.Module of tf.Variables and tf.functions.

  Attributes after construction: `<method name>` for each method (a
  tf.function over the method's arguments), `params` (the params pytree
  with tf.Variable leaves), `param_paths` (keystr path of each variable),
  `variables` / `trainable_variables` (as any tf.Module), and
  `param_variables` / `trainable_param_variables`: lists that a reloaded
  SavedModel has too (for a GradientTape or an optimizer, without JAX).
  """

  def __init__(self, params: Any, methods: Mapping[str, Method | Callable], *,
               trainable: Any = True,
               serving_configs: Sequence[ServingConfig] = (),
               default_signature: str | None = None,
               enable_xla: bool = True,
               with_gradient: bool = True,
               name: str | None = None):
    """Args:
      params: the JAX params pytree.
      methods: name -> Method (the first one is `serving_default` unless
        `default_signature` names another method or a ServingConfig key).
      trainable: which variables are trainable (see `trainable_mask`).
      serving_configs: extra signatures with TF pre/post-processing.
      default_signature: the method or signature key of serving_default.
      enable_xla: convert with tf2xla ops allowed (False: portable graph).
      with_gradient: attach the JAX VJP as the methods' gradient.
    """
    super().__init__(name=name)
    if not methods:
      raise ValueError("a Module needs at least one method")
    param_tree = to_variables(params, trainable)
    with_paths, treedef = tree_util.tree_flatten_with_path(param_tree)
    leaves = [leaf for _, leaf in with_paths]
    is_var = [isinstance(leaf, tf.Variable) for leaf in leaves]
    # A flat list: tf.Module tracks the variables of lists, not of pytrees.
    self._param_variables = [v for v, b in zip(leaves, is_var) if b]
    # Saved as attributes: a reloaded SavedModel (a restored object, not a
    # tf.Module) has no `trainable_variables` property; these lists are.
    self.param_variables = list(self._param_variables)
    self.trainable_param_variables = [v for v in self._param_variables
                                      if v.trainable]
    self._py = _Plain(
        param_tree=param_tree, treedef=treedef,
        var_positions=[i for i, b in enumerate(is_var) if b],
        static=tuple((i, v) for i, (v, b) in enumerate(zip(leaves, is_var))
                     if not b),
        paths=[tree_util.keystr(p) for (p, _), b in zip(with_paths, is_var)
               if b],
        methods={}, examples={})
    for method_name, method in methods.items():
      if not isinstance(method, Method):
        raise TypeError(f"method {method_name!r}: expected a "
                        f"jax2tf_impl.Method, got {type(method).__name__}")
      if method_name in _RESERVED or not method_name.isidentifier():
        raise ValueError(f"method name {method_name!r} is not allowed "
                         "(not an identifier, or a tf.Module attribute)")
      self._add_method(method_name, method, enable_xla, with_gradient)
    self._py.configs = list(serving_configs)
    self._py.default = default_signature or next(iter(methods))

  @property
  def params(self) -> Any:
    """The params pytree, with tf.Variable leaves."""
    return self._py.param_tree

  @property
  def param_paths(self) -> list[str]:
    """The keystr path in params of each variable, in `params` leaf order."""
    return list(self._py.paths)

  @property
  def methods(self) -> dict[str, Method]:
    return dict(self._py.methods)

  def _params_now(self) -> Any:
    leaves = tracing.merge_leaves(list(self._param_variables), self._py.static)
    return tree_util.tree_unflatten(self._py.treedef, leaves)

  def _add_method(self, method_name: str, method: Method, enable_xla: bool,
                  with_gradient: bool) -> None:
    examples = tree_util.tree_map(
        _example_array, tuple(method.example_args),
        is_leaf=lambda x: isinstance(x, tf.TensorSpec))
    specs = (None if method.polymorphic_shapes is None
             else tuple(method.polymorphic_shapes))
    converted = convert(
        method.fn,
        polymorphic_shapes=None if specs is None else (None,) + specs,
        polymorphic_constraints=method.constraints,
        with_gradient=with_gradient, enable_xla=enable_xla)
    input_sig = signatures.input_signature(examples, specs)
    module = self

    def call(*args: Any) -> Any:
      result = converted(module._params_now(), *args)
      if method.updates_params:
        new_params, result = result
        new_leaves = tree_util.tree_leaves(new_params)
        for i, var in zip(module._py.var_positions, module._param_variables):
          var.assign(new_leaves[i])
      return result

    fn = tf.function(call, autograph=False, input_signature=input_sig)
    self._py.methods[method_name] = method
    self._py.examples[method_name] = (examples, input_sig)
    setattr(self, method_name, fn)
    # Tracks the constant variables of the converted function.
    setattr(self, f"_converted_{method_name}", converted)

  def _flat_names(self, method_name: str) -> list[str]:
    method = self._py.methods[method_name]
    examples, _ = self._py.examples[method_name]
    n = len(tree_util.tree_leaves(examples))
    if method.input_names is not None:
      names = list(method.input_names)
      if len(names) != n:
        raise ValueError(f"method {method_name!r}: {len(names)} input_names "
                         f"for {n} flat inputs")
      return names
    if len(examples) == 1 and isinstance(examples[0], dict):
      return [str(k) for k in sorted(examples[0])]
    return [signatures.input_name(i) for i in range(n)]

  def _named_outputs(self, method_name: str, result: Any) -> dict[str, Any]:
    method = self._py.methods[method_name]
    if isinstance(result, dict) and method.output_names is None and all(
        isinstance(v, tf.Tensor) for v in result.values()):
      return {str(k): v for k, v in result.items()}
    flat = tf.nest.flatten(result)
    names = (list(method.output_names) if method.output_names is not None
             else [signatures.output_name(i) for i in range(len(flat))])
    if len(names) != len(flat):
      raise ValueError(f"method {method_name!r}: {len(names)} output_names "
                       f"for {len(flat)} outputs")
    return dict(zip(names, flat))

  def _method_signature(self, method_name: str) -> Any:
    examples, input_sig = self._py.examples[method_name]
    leaves, tree = tree_util.tree_flatten(
        input_sig, is_leaf=lambda x: isinstance(x, tf.TensorSpec))
    names = self._flat_names(method_name)
    flat_sig = [tf.TensorSpec(s.shape, s.dtype, name=n)
                for s, n in zip(leaves, names)]
    method_fn = getattr(self, method_name)

    def serve(*flat: tf.Tensor) -> dict[str, Any]:
      args = tree_util.tree_unflatten(tree, list(flat))
      return self._named_outputs(method_name, method_fn(*args))

    del examples
    return tf.function(serve, autograph=False, input_signature=flat_sig)

  def _config_signature(self, config: ServingConfig) -> Any:
    if config.method not in self._py.methods:
      raise ValueError(f"ServingConfig {config.signature_key!r}: no method "
                       f"{config.method!r}")
    if config.input_signature is None:
      if config.preprocessor is not None:
        raise ValueError(f"ServingConfig {config.signature_key!r}: a "
                         "preprocessor needs an input_signature")
      base = self._method_signature(config.method)
      input_sig = list(base.input_signature)
    else:
      input_sig = list(config.input_signature)
    method_fn = getattr(self, config.method)
    _, method_sig = self._py.examples[config.method]
    _, arg_tree = tree_util.tree_flatten(
        method_sig, is_leaf=lambda x: isinstance(x, tf.TensorSpec))

    def serve(*inputs: tf.Tensor) -> Any:
      if config.preprocessor is not None:
        args = config.preprocessor(*inputs)
        if not isinstance(args, tuple):
          args = (args,)
      else:
        args = tree_util.tree_unflatten(arg_tree, list(inputs))
      result = method_fn(*args)
      if config.postprocessor is not None:
        result = config.postprocessor(result)
        if isinstance(result, dict):
          return result
      return self._named_outputs(config.method, result)

    return tf.function(serve, autograph=False, input_signature=input_sig)

  def serving_signatures(self) -> dict[str, Any]:
    """signature key -> tf.function with named flat inputs and dict outputs:
    one per method (unless `Method.signature` is False), one per
    ServingConfig key, and `serving_default`."""
    sigs: dict[str, Any] = {}
    for method_name, method in self._py.methods.items():
      if method.signature:
        sigs[method_name] = self._method_signature(method_name)
    for config in self._py.configs:
      keys = ([config.signature_key] if isinstance(config.signature_key, str)
              else list(config.signature_key))
      fn = self._config_signature(config)
      for key in keys:
        sigs[key] = fn
    if "serving_default" not in sigs:
      if self._py.default not in sigs:
        if self._py.default not in self._py.methods:
          raise ValueError(f"default_signature {self._py.default!r} is neither "
                           "a method nor a ServingConfig key")
        sigs[self._py.default] = self._method_signature(self._py.default)
      sigs["serving_default"] = sigs[self._py.default]
    return sigs

  def save(self, path: str,
           options: tf.saved_model.SaveOptions | None = None) -> None:
    """Saves a SavedModel with the methods (as tf.functions, with the JAX
    gradient) and the serving signatures; needs no JAX to load."""
    sigs = self.serving_signatures()
    saved_model.save(self, path, signatures={
        k: fn.get_concrete_function() for k, fn in sigs.items()},
                     options=options)
