"""A spec function with one piece of its source text replaced: how negative controls
plant a bug inside a function, where monkeypatching a whole function would not reach."""

import inspect
import textwrap
from collections.abc import Callable
from types import ModuleType
from typing import Any


def source_mutant(module: ModuleType, name: str, old: str, new: str) -> Callable[..., Any]:
    """`module.name`, compiled again with `old` (found exactly once) replaced by `new`,
    in a copy of the module's namespace (the module itself is untouched)."""
    source = textwrap.dedent(inspect.getsource(getattr(module, name)))
    assert source.count(old) == 1, f"the mutant's text is not in {name} once: {old!r}"
    namespace = dict(vars(module))
    exec(compile(source.replace(old, new), str(module.__file__), "exec"), namespace)
    mutant: Callable[..., Any] = namespace[name]
    return mutant
