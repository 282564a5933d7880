"""The package's import rules (docs/architecture.md, "Layers"), checked on
the source text so that a violation fails here, not in a later JAX or TF
upgrade.

- Only jax2tf_impl/jax_internals.py imports `jax._src`; only
  jax2tf_impl/tf_internals.py imports TF's private modules.
- No module imports another module's private (underscore) names.
- rules/ never imports api, export or saved_model; gradients never imports
  api; the core modules never import an export target.
- Tests never import examples/; modules stay small.
"""
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "jax2tf_impl")
MAX_MODULE_LINES = 550


def _sources(top):
  for dirpath, _, files in os.walk(top):
    for f in sorted(files):
      if f.endswith(".py"):
        yield os.path.join(dirpath, f)


def _module_name(path):
  rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
  return rel[:-len(".__init__")] if rel.endswith(".__init__") else rel


def _imports(path):
  """(imported module, imported names) for every import in `path`."""
  tree = ast.parse(open(path).read(), path)
  out = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      out.extend((a.name, []) for a in node.names)
    elif isinstance(node, ast.ImportFrom):
      module = node.module or ""
      if node.level:  # relative import
        base = _module_name(path).split(".")[:-node.level]
        module = ".".join(base + ([module] if module else []))
      out.append((module, [a.name for a in node.names]))
  return out


PACKAGE_FILES = list(_sources(PACKAGE))


def test_sources_found():
  assert len(PACKAGE_FILES) > 30


@pytest.mark.parametrize("path", PACKAGE_FILES,
                         ids=lambda p: os.path.relpath(p, ROOT))
def test_internals_only_through_one_door(path):
  name = _module_name(path)
  for module, names in _imports(path):
    full = [module] + [f"{module}.{n}" for n in names]
    if name != "jax2tf_impl.jax_internals":
      assert not any(m == "jax._src" or m.startswith("jax._src.") for m in full), (
          f"{name} imports {module}: JAX internals go through jax_internals.py")
    if name != "jax2tf_impl.tf_internals":
      assert not any(m.startswith(("tensorflow.python", "tensorflow.compiler",
                                   "tensorflow.core"))
                     for m in full), (
          f"{name} imports {module}: TF internals go through tf_internals.py")
  if name != "jax2tf_impl.tf_internals":
    assert "tf.__internal__" not in open(path).read(), name


@pytest.mark.parametrize("path", PACKAGE_FILES,
                         ids=lambda p: os.path.relpath(p, ROOT))
def test_no_private_names_across_modules(path):
  for module, names in _imports(path):
    if not module.startswith("jax2tf_impl"):
      continue
    private = [n for n in names if n.startswith("_") and n != "__future__"]
    assert not private, f"{_module_name(path)} imports {private} from {module}"
  # `mod._name` on a jax2tf_impl module imported as `mod`.
  tree = ast.parse(open(path).read(), path)
  aliases = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
        "jax2tf_impl"):
      aliases |= {a.asname or a.name for a in node.names}
    elif isinstance(node, ast.Import):
      aliases |= {a.asname or a.name.split(".")[0] for a in node.names
                  if a.name.startswith("jax2tf_impl")}
  for node in ast.walk(tree):
    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        and node.value.id in aliases and node.attr.startswith("_")
        and not node.attr.startswith("__")):
      pytest.fail(f"{_module_name(path)}:{node.lineno} uses "
                  f"{node.value.id}.{node.attr}, a private name")


FORBIDDEN = {
    "jax2tf_impl.rules": ("jax2tf_impl.api", "jax2tf_impl.export",
                          "jax2tf_impl.saved_model", "jax2tf_impl.gradients"),
    "jax2tf_impl.gradients": ("jax2tf_impl.api", "jax2tf_impl.export"),
    "jax2tf_impl.interpreter": ("jax2tf_impl.api", "jax2tf_impl.export",
                                "jax2tf_impl.saved_model"),
    "jax2tf_impl.constants": ("jax2tf_impl.api", "jax2tf_impl.export",
                              "jax2tf_impl.saved_model"),
    "jax2tf_impl.shapes": ("jax2tf_impl.rules", "jax2tf_impl.api",
                           "jax2tf_impl.export"),
    "jax2tf_impl.dtypes": ("jax2tf_impl.rules", "jax2tf_impl.api",
                           "jax2tf_impl.export"),
}


@pytest.mark.parametrize("path", PACKAGE_FILES,
                         ids=lambda p: os.path.relpath(p, ROOT))
def test_layers(path):
  name = _module_name(path)
  for owner, forbidden in FORBIDDEN.items():
    if name != owner and not name.startswith(owner + "."):
      continue
    for module, names in _imports(path):
      full = [module] + [f"{module}.{n}" for n in names]
      bad = [m for m in full for f in forbidden
             if m == f or m.startswith(f + ".")]
      assert not bad, f"{name} must not import {bad}"


@pytest.mark.parametrize("path", PACKAGE_FILES,
                         ids=lambda p: os.path.relpath(p, ROOT))
def test_module_size(path):
  n = len(open(path).read().splitlines())
  assert n <= MAX_MODULE_LINES, (
      f"{os.path.relpath(path, ROOT)} has {n} lines: split it by family")


def test_tests_never_import_examples():
  for path in _sources(os.path.join(ROOT, "tests")):
    text = open(path).read()
    if os.path.abspath(path) == os.path.abspath(__file__):
      continue
    for module, _ in _imports(path):
      assert not module.startswith("examples"), (path, module)
    assert "spec_from_file_location" not in text or "examples" not in text, path
