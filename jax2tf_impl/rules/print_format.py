"""NumPy's `str()` of arrays, rebuilt from TF string ops (for `jax.debug.print`).

`jax.debug.print` formats its arguments with `str.format`, i.e. with NumPy's
`str()` of each array. To keep a converted model free of Python (it must run
from a SavedModel in a process without JAX), we rebuild that text with
`tf.strings` ops instead of calling NumPy through `tf.py_function`:

* floats: the shortest digit string that reads back as the same value (what
  NumPy's Dragon4 "unique" mode prints), found by trying `%.{p}e` for each
  precision p and parsing it back; then NumPy's positional/scientific
  choice, trimming and padding rules (`FloatingFormat` for arrays, the
  scalar `str` rules for 0-d values);
* integers right-aligned to a common width, booleans as `True`/`False`;
* NumPy's layout: nested brackets, blank lines between blocks of 3-D and
  higher arrays, line wrapping at `linewidth`, and summarization (`...`) of
  arrays larger than `threshold` (static shapes only).

Everything is a pure function of the value and of the print options JAX
recorded in the equation (`np_printoptions`). Known differences are listed in
docs/callbacks.md.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from jax2tf_impl.rules.semantics import is_inf, is_nan

_SPACES = " " * 512
_ZEROS = "0" * 512

# Largest magnitude printed positionally by str() of a 0-d value, per dtype
# (NumPy 2: 1e3 for float16, 1e6 for float32, 1e16 for float64).
_SCALAR_POSITIONAL_MAX = {tf.float16: 1e3, tf.bfloat16: 1e3, tf.float32: 1e6,
                          tf.float64: 1e16}
# Significant digits that always suffice to read a value back exactly.
_MAX_DIGITS = {tf.float16: 5, tf.bfloat16: 4, tf.float32: 9, tf.float64: 17}
# numpy.finfo(dtype).precision, for FloatingFormat's exponent cutoff.
_FINFO_PRECISION = {tf.float16: 3, tf.bfloat16: 2, tf.float32: 6,
                    tf.float64: 15}

DEFAULT_OPTIONS = dict(edgeitems=3, threshold=1000, floatmode="maxprec",
                       precision=8, suppress=False, linewidth=75,
                       nanstr="nan", infstr="inf", sign="-", formatter=None,
                       legacy=False, override_repr=None)


def unsupported_options(options: dict[str, Any]) -> list[str]:
  """The NumPy print options we do not reproduce (their names)."""
  bad = []
  for k in ("floatmode", "suppress", "sign", "formatter", "legacy",
            "override_repr"):
    if k in options and options[k] != DEFAULT_OPTIONS[k]:
      bad.append(f"{k}={options[k]!r}")
  return bad


# --- small string helpers ------------------------------------------------
def fill(s: tf.Tensor, text: str, n: tf.Tensor) -> tf.Tensor:
  """`text[:n]` elementwise, shaped like `s` (n >= 0)."""
  n = tf.broadcast_to(tf.maximum(tf.cast(n, tf.int32), 0), tf.shape(s))
  return tf.strings.substr(tf.fill(tf.shape(s), text), tf.zeros_like(n), n)


def _lpad(s: tf.Tensor, width: Any) -> tf.Tensor:
  return tf.strings.join([fill(s, _SPACES, width - tf.strings.length(s)), s])


def _rpad(s: tf.Tensor, width: Any, text: str = _SPACES) -> tf.Tensor:
  return tf.strings.join([s, fill(s, text, width - tf.strings.length(s))])


def _max_len(s: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
  """Longest string of `s` where `mask`, 0 if none."""
  lens = tf.where(mask, tf.strings.length(s), 0)
  return tf.reduce_max(tf.concat([tf.reshape(lens, [-1]), [0]], 0))


def _substr(s: tf.Tensor, pos: tf.Tensor, n: tf.Tensor) -> tf.Tensor:
  """s[pos:pos+n], clipped to the string (no out-of-range errors)."""
  length = tf.strings.length(s)
  pos = tf.clip_by_value(tf.broadcast_to(pos, tf.shape(s)), 0, length)
  n = tf.clip_by_value(tf.broadcast_to(n, tf.shape(s)), 0, length - pos)
  return tf.strings.substr(s, pos, n)


def _signbit(x: tf.Tensor) -> tf.Tensor:
  """x < 0, and True for -0.0 (1/-0.0 = -inf)."""
  zero = tf.equal(x, 0)
  return tf.logical_or(tf.less(x, 0),
                       tf.logical_and(zero, tf.less(1 / tf.where(zero, x, 1), 0)))


# --- float digits --------------------------------------------------------
def _sci_candidates(a: tf.Tensor, max_digits: int
                    ) -> tuple[tf.Tensor, tf.Tensor]:
  """For finite a >= 0: `%.{p-1}e` of a for p = 1..max_digits (stacked on a
  new last axis), and the shortest p whose text reads back as a in a's
  dtype (the digits Dragon4's "unique" mode prints). Where no p reads back,
  p = max_digits (correctly rounded), as Dragon4 under a precision cutoff."""
  work = tf.float64 if a.dtype == tf.float64 else tf.float32
  aw = tf.cast(a, work)
  cands = tf.stack([tf.strings.as_string(aw, precision=p, scientific=True)
                    for p in range(max_digits)], -1)
  back = tf.cast(tf.strings.to_number(cands, work), a.dtype)
  ok = tf.equal(back, a[..., None])
  idx = tf.argmax(tf.cast(ok, tf.int32), axis=-1, output_type=tf.int32)
  idx = tf.where(tf.reduce_any(ok, -1), idx, max_digits - 1)
  return cands, idx + 1


def _pick(cands: tf.Tensor, idx: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """The candidate `idx` (elementwise) as (digits without the point,
  decimal exponent)."""
  idx = tf.broadcast_to(idx, tf.shape(cands)[:-1])
  chosen = tf.gather(cands, idx[..., None], axis=-1,
                     batch_dims=len(cands.shape) - 1)[..., 0]
  mantissa = tf.strings.regex_replace(chosen, "e.*$", "")
  digits = tf.strings.regex_replace(mantissa, r"\.", "")
  exponent = tf.strings.to_number(
      tf.strings.regex_replace(chosen, "^.*e", ""), tf.int32)
  return digits, exponent


def _positional_parts(digits: tf.Tensor, e: tf.Tensor, p: tf.Tensor
                      ) -> tuple[tf.Tensor, tf.Tensor]:
  """Integer and fraction digits of d1.d2...dp * 10**e, written out."""
  int_big = tf.strings.join([_substr(digits, 0, e + 1),
                             fill(digits, _ZEROS, e + 1 - p)])
  frac_big = _substr(digits, e + 1, p)
  frac_small = tf.strings.join([fill(digits, _ZEROS, -e - 1), digits])
  small = tf.less(e, 0)
  return (tf.where(small, tf.fill(tf.shape(digits), "0"), int_big),
          tf.where(small, frac_small, frac_big))


def _sign_prefix(x: tf.Tensor) -> tf.Tensor:
  return tf.where(_signbit(x), "-", "")


def _exponent_text(e: tf.Tensor, width: Any) -> tf.Tensor:
  """"e+05": sign and |e| zero-padded to `width` digits."""
  mag = tf.strings.as_string(tf.abs(e))
  mag = tf.strings.join([fill(mag, _ZEROS, width - tf.strings.length(mag)),
                         mag])
  return tf.strings.join(["e", tf.where(e < 0, "-", "+"), mag])


def float_scalar_str(x: tf.Tensor, options: dict[str, Any]) -> tf.Tensor:
  """str() of a 0-d float value, as NumPy 2 writes it."""
  a = tf.abs(x)
  finite = tf.math.is_finite(x)
  safe = tf.where(finite, a, tf.zeros_like(a))
  cands, p = _sci_candidates(safe, _MAX_DIGITS[x.dtype])
  digits, e = _pick(cands, p - 1)
  ip, fp = _positional_parts(digits, e, p)
  positional = tf.strings.join(
      [ip, ".", tf.where(tf.strings.length(fp) > 0, fp, "0")])
  first = _substr(digits, 0, 1)
  rest = _substr(digits, 1, p)
  mant = tf.where(p > 1, tf.strings.join([first, ".", rest]), first)
  scientific = tf.strings.join([mant, _exponent_text(e, 2)])
  # NumPy compares in double precision.
  wide = tf.cast(safe, tf.float64)
  use_pos = tf.logical_or(
      tf.equal(wide, 0),
      tf.logical_and(wide >= 1e-4, wide < _SCALAR_POSITIONAL_MAX[x.dtype]))
  body = tf.strings.join([_sign_prefix(x),
                          tf.where(use_pos, positional, scientific)])
  nonfinite = tf.where(is_nan(x), options["nanstr"],
                       tf.strings.join([tf.where(x < 0, "-", ""),
                                        options["infstr"]]))
  return tf.where(finite, body, nonfinite)


def float_array_words(x: tf.Tensor, options: dict[str, Any]) -> tf.Tensor:
  """Each element as NumPy's FloatingFormat writes it in an array (same
  width for all, floatmode='maxprec')."""
  precision = int(options["precision"])
  a = tf.abs(x)
  finite = tf.math.is_finite(x)
  safe = tf.where(finite, a, tf.zeros_like(a))
  nonzero = tf.logical_and(finite, tf.not_equal(a, 0))
  max_val = tf.reduce_max(tf.concat(
      [tf.reshape(tf.where(nonzero, safe, tf.zeros_like(safe)), [-1]),
       tf.zeros([1], safe.dtype)], 0))
  inf = tf.cast(np.inf, safe.dtype)
  min_val = tf.reduce_min(tf.concat(
      [tf.reshape(tf.where(nonzero, safe, tf.fill(tf.shape(safe), inf)), [-1]),
       tf.fill([1], inf)], 0))
  cutoff = 10.0 ** min(8, _FINFO_PRECISION[x.dtype])
  wide = tf.cast(max_val, tf.float64)
  narrow = tf.cast(min_val, tf.float64)
  exp_format = tf.logical_and(
      tf.reduce_any(nonzero),
      tf.logical_or(wide >= cutoff,
                    tf.logical_or(narrow < 1e-4, wide / narrow > 1000.0)))
  sign = _sign_prefix(x)

  # Positional: unique digits, at most `precision` fractional digits.
  max_digits = _MAX_DIGITS[x.dtype]
  cands, p = _sci_candidates(safe, max_digits)
  digits, e = _pick(cands, p - 1)
  ip, fp = _positional_parts(digits, e, p)
  too_long = tf.strings.length(fp) > precision
  work = tf.float64 if x.dtype == tf.float64 else tf.float32
  fixed = tf.strings.regex_replace(
      tf.strings.as_string(tf.cast(safe, work), precision=precision), "0+$", "")
  fixed_int = tf.strings.regex_replace(fixed, r"\..*$", "")
  fixed_frac = tf.strings.regex_replace(fixed, r"^[^.]*\.", "")
  ip = tf.strings.join([sign, tf.where(too_long, fixed_int, ip)])
  fp = tf.where(too_long, fixed_frac, fp)
  pos_left = _max_len(ip, finite)
  pos_right = _max_len(fp, finite)

  # Scientific: unique mantissas with at most `precision` fractional
  # digits; then all are printed with the longest one's number of digits
  # (more digits of the exact value, not zeros: min_digits in Dragon4).
  sp = tf.minimum(p, precision + 1)
  sprec = tf.reduce_max(tf.concat(
      [tf.reshape(tf.where(finite, sp - 1, 0), [-1]), [0]], 0))
  sprec = tf.minimum(sprec, max_digits - 1)
  sdigits, se = _pick(cands, sprec)
  sint = tf.strings.join([sign, _substr(sdigits, 0, 1)])
  sfrac = _substr(sdigits, 1, sprec)
  mag_len = tf.strings.length(tf.strings.as_string(tf.abs(se)))
  exp_size = tf.maximum(tf.reduce_max(tf.concat(
      [tf.reshape(tf.where(finite, mag_len, 0), [-1]), [0]], 0)), 2)
  sci_left = _max_len(sint, finite)
  sci_right = exp_size + 2 + sprec

  pad_left = tf.where(exp_format, sci_left, pos_left)
  pad_right = tf.where(exp_format, sci_right, pos_right)
  has_nonfinite = tf.logical_not(tf.reduce_all(finite))
  neginf = tf.reduce_any(tf.logical_and(is_inf(x), x < 0))
  offset = pad_right + 1
  pad_left = tf.where(
      has_nonfinite,
      tf.maximum(pad_left, tf.maximum(
          len(options["nanstr"]) - offset,
          len(options["infstr"]) + tf.cast(neginf, tf.int32) - offset)),
      pad_left)

  pos_words = tf.strings.join([_lpad(ip, pad_left), ".",
                               _rpad(fp, pad_right)])
  sci_words = tf.strings.join([_lpad(sint, pad_left), ".",
                               sfrac,
                               _exponent_text(se, exp_size)])
  words = tf.where(exp_format, sci_words, pos_words)
  nonfinite = tf.where(is_nan(x), options["nanstr"],
                       tf.strings.join([tf.where(x < 0, "-", ""),
                                        options["infstr"]]))
  nonfinite = _lpad(nonfinite, pad_left + pad_right + 1)
  return tf.where(finite, words, nonfinite)


# --- whole values --------------------------------------------------------
def _printable_float(x: tf.Tensor) -> tf.Tensor:
  """bfloat16 and float8 are written as float32 (no digit tables for them)."""
  if x.dtype not in _MAX_DIGITS or x.dtype == tf.bfloat16:
    return tf.cast(x, tf.float32)
  return x


def _element_words(x: tf.Tensor, options: dict[str, Any]) -> tf.Tensor:
  if x.dtype == tf.bool:
    return tf.where(x, " True", "False")
  if x.dtype.is_floating:
    return float_array_words(_printable_float(x), options)
  if x.dtype.is_integer:
    s = tf.strings.as_string(x)
    return _lpad(s, _max_len(s, tf.ones_like(s, tf.bool)))
  raise NotImplementedError(f"printing {x.dtype.name} arrays")


def scalar_str(x: tf.Tensor, options: dict[str, Any]) -> tf.Tensor:
  """str() of a 0-d value."""
  if x.dtype == tf.bool:
    return tf.where(x, "True", "False")
  if x.dtype.is_floating:
    return float_scalar_str(_printable_float(x), options)
  if x.dtype.is_integer:
    return tf.strings.as_string(x)
  if x.dtype.is_complex:
    # Complex parts drop a trailing ".0" ("(1+2j)").
    re_, im = [tf.strings.regex_replace(
        float_scalar_str(part, options), r"\.0$", "")
        for part in (tf.math.real(x), tf.math.imag(x))]
    im = tf.where(tf.strings.regex_full_match(im, "-.*"), im,
                  tf.strings.join(["+", im]))
    return tf.strings.join(["(", re_, im, "j)"])
  raise NotImplementedError(f"printing {x.dtype.name} values")


def _wrap_seps(w: tf.Tensor, widths: Sequence[Any] | None, n: Any,
               indent: int, line_width: int) -> tf.Tensor:
  """For each word j of a row, True if a new line starts before it (NumPy's
  greedy wrapping). `widths` lists the words' widths when the row is short
  and static (summarized rows), else all `n` words have width `w`."""
  if widths is None:
    # All words have width w: k of them fit on a line.
    k = tf.maximum((line_width - indent - w) // (w + 1) + 1, 1)
    j = tf.range(n)
    return tf.logical_and(j > 0, tf.equal(j % k, 0))
  flags = []
  length = tf.constant(indent, tf.int32)
  for j, wj in enumerate(widths):
    if j == 0:
      flags.append(tf.constant(False))
    else:
      brk = tf.logical_and(length + wj > line_width, length > indent)
      flags.append(brk)
      length = tf.where(brk, tf.constant(indent, tf.int32), length)
    length = length + wj + 1
  return tf.stack(flags)


def array_str(x: tf.Tensor, static_shape: Sequence[Any],
              options: dict[str, Any]) -> tf.Tensor:
  """str() of a value of rank >= 1 (`static_shape` from the jaxpr: ints,
  or None for symbolic dimensions)."""
  rank = len(static_shape)
  if rank == 0:
    return scalar_str(x, options)
  if any(d == 0 for d in static_shape):
    return tf.constant("[]")
  edge = int(options["edgeitems"])
  static = all(isinstance(d, int) for d in static_shape)
  summarize = static and int(np.prod(static_shape)) > int(options["threshold"])
  summarized = []
  for axis, d in enumerate(static_shape):
    if summarize and d > 2 * edge:
      head = tf.gather(x, tf.range(edge), axis=axis)
      tail = tf.gather(x, tf.range(d - edge, d), axis=axis)
      x = tf.concat([head, tail], axis)
      summarized.append(True)
    else:
      summarized.append(False)
  if x.dtype.is_complex:
    raise NotImplementedError("printing complex arrays")
  words = _element_words(x, options)
  w = tf.reduce_max(tf.strings.length(words))
  line_width = int(options["linewidth"]) - rank
  indent = rank
  shape = tf.shape(words)
  n = shape[-1]

  # Innermost rows: words separated by " " or a line break.
  cols = [words[..., j] for j in range(2 * edge)] if summarized[-1] else None
  if cols is not None:
    ellipsis = tf.fill(shape[:-1], "...")
    cols = cols[:edge] + [ellipsis] + cols[edge:]
    widths = [w] * edge + [3] + [w] * edge
    breaks = _wrap_seps(w, widths, None, indent, line_width)
    tokens = tf.stack(cols, -1)
  else:
    breaks = _wrap_seps(w, None, n, indent, line_width)
    tokens = words
  # A word that ends a line loses its trailing spaces (line.rstrip()).
  breaks_after = tf.concat([breaks[1:], [False]], 0)
  tokens = tf.where(breaks_after, tf.strings.regex_replace(tokens, " +$", ""),
                    tokens)
  seps = tf.where(breaks, "\n" + " " * indent, " ")
  seps = tf.where(tf.range(tf.size(breaks)) > 0, seps, "")
  seps = tf.broadcast_to(seps, tf.shape(tokens))
  row = tf.strings.reduce_join(tf.strings.join([seps, tokens]), axis=-1)
  out = tf.strings.join(["[", row, "]"])

  # Outer axes: blocks separated by newlines and the hanging indent.
  for axis in range(rank - 2, -1, -1):
    sep = "\n" * (rank - 1 - axis) + " " * (axis + 1)
    if summarized[axis]:
      rows = [out[..., j] for j in range(2 * edge)]
      ellipsis = tf.fill(tf.shape(out)[:-1], "...")
      out = tf.stack(rows[:edge] + [ellipsis] + rows[edge:], -1)
    out = tf.strings.join(
        ["[", tf.strings.reduce_join(out, axis=-1, separator=sep), "]"])
  return out


def value_str(x: tf.Tensor, static_shape: Sequence[Any],
              options: dict[str, Any]) -> tf.Tensor:
  """str() of a JAX array value, as a scalar TF string."""
  if not static_shape:
    return scalar_str(x, options)
  return array_str(x, static_shape, options)
