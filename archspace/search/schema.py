"""Reading a space file's values: typed readers that name the key path on every error.

Each reader takes the value and its key path (e.g. "knobs.width.low") and returns the
checked value or raises `SpaceError`. `load_space` adds the file name, so the user sees
one line: `vov3d.yaml: knobs.width.low: must be a number; got 'abc'`.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

import yaml

from archspace.errors import UserError


class SpaceError(UserError):
    """A bad item in a space file; `key` is its path (e.g. "knobs.width.low")."""

    def __init__(self, key: str, detail: str, file: Optional[str] = None):
        self.key, self.detail, self.file = key, detail, file
        where = f"{file}: " if file else ""
        super().__init__(f"{where}{key}: {detail}" if key else f"{where}{detail}")

    def __reduce__(self):
        # Pickled as its parts (the default would call __init__ with the message alone).
        return SpaceError, (self.key, self.detail, self.file)

    def in_file(self, file: str) -> "SpaceError":
        """The same error, its message prefixed with `file`."""
        return SpaceError(self.key, self.detail, file)


def show(value: Any) -> str:
    """A short repr for error messages (long lists are cut)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def mapping(value: Any, key: str) -> dict:
    """`value` if it is a mapping (None reads as an empty one); else SpaceError."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpaceError(key, f"must be a mapping of name: value; got {show(value)}")
    for name in value:
        if not isinstance(name, str):
            raise SpaceError(key, f"keys must be names; got {show(name)}")
    return value


def no_unknown(value: dict, allowed: Iterable[str], key: str) -> None:
    """Raise SpaceError naming the first key of `value` that is not in `allowed`."""
    allowed = list(allowed)
    for name in value:
        if name not in allowed:
            path = f"{key}.{name}" if key else name
            raise SpaceError(path, f"unknown key; allowed: {', '.join(allowed)}")


def number(value: Any, key: str) -> float | int:
    if not is_number(value):
        hint = ""
        if isinstance(value, str) and _looks_like_exponent(value):
            # YAML 1.1 (PyYAML) reads 1e-3 as text; 1.0e-3 is a float.
            hint = f" (YAML reads {value} as text: write it with a decimal point, e.g. 1.0e-3)"
        raise SpaceError(key, f"must be a number; got {show(value)}{hint}")
    return value


def positive_number(value: Any, key: str) -> float | int:
    if number(value, key) <= 0:
        raise SpaceError(key, f"must be a number > 0; got {show(value)}")
    return value


def integer(value: Any, key: str, minimum: Optional[int] = None) -> int:
    if not is_int(value) or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise SpaceError(key, f"must be an integer{bound}; got {show(value)}")
    return value


def one_of(value: Any, allowed: Iterable[str], key: str) -> str:
    allowed = list(allowed)
    if value not in allowed:
        raise SpaceError(key, f"must be one of {', '.join(allowed)}; got {show(value)}")
    return value


def _looks_like_exponent(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return "e" in text.lower()


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                continue  # an unhashable key is refused later, as "keys must be names"
            if key in seen:
                problem = f"duplicate key {key!r}"
                raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(text: str) -> Any:
    """The parsed YAML `text`; raises SpaceError (with the line) if malformed or a key repeats."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: plain data only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpaceError("", f"malformed YAML{where}: {problem}") from None
