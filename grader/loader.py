"""Loading an answer file (YAML, JSON or TOML) without trusting it.

Bounded before parsing: size (``MAX_BYTES``), UTF-8 text, nesting depth; YAML with the safe loader
and no anchors/aliases (alias bombs) or tags (``!!python/object``). A file that cannot be read
gives a :class:`LoadError` whose message is shown to the student; nothing else escapes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

MAX_BYTES = 256 * 1024
MAX_DEPTH = 8
MAX_PARTS = 500
SUFFIXES = (".yaml", ".yml", ".json", ".toml")


class LoadError(ValueError):
    """The submission file could not be read (one line, for the student)."""


def _yaml_load(text: str) -> Any:
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise LoadError("YAML anchors/aliases (*ref) are not allowed in answer files")
            event = self.peek_event()
            if getattr(event, "anchor", None):
                raise LoadError("YAML anchors (&ref) are not allowed in answer files")
            tag = getattr(event, "tag", None)
            if tag and tag.startswith("!") and tag not in ("!",):
                raise LoadError(f"YAML tags ({tag}) are not allowed in answer files")
            return super().compose_node(parent, index)

    # plain numbers stay text: "1,234" or "1e4" must reach our parser as written
    StrictLoader.yaml_implicit_resolvers = {k: [(t, r) for t, r in v if t == "tag:yaml.org,2002:null"]
                                            for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise LoadError(f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None


def _depth_ok(text: str) -> bool:
    """Cheap pre-check of bracket/indent nesting so that parsers never recurse deeply."""
    depth = worst = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            worst = max(worst, depth)
        elif ch in "]}":
            depth -= 1
    indents = {len(m) for m in re.findall(r"^( *)\S", text, flags=re.M)}
    return worst <= MAX_DEPTH + 2 and len(indents) <= 4 * MAX_DEPTH


def load_answers(path: Path) -> dict[str, Any]:
    """Part ID → answer as written (strings, numbers, lists or mappings)."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise LoadError(f"{path.name}: answer files are .yaml, .yml, .json or .toml")
    from grader.submission import RefusedFile, read_regular

    try:
        data = read_regular(path, MAX_BYTES)  # a regular file, never through a link
    except RefusedFile as exc:
        raise LoadError(str(exc)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LoadError(f"{path.name} is not UTF-8 text") from None
    if "\x00" in text:
        raise LoadError(f"{path.name} contains binary data")
    if not _depth_ok(text):
        raise LoadError(f"{path.name} is nested too deeply (answers are a flat mapping of part ID to answer)")
    try:
        if suffix == ".json":
            loaded = json.loads(text, parse_float=str, parse_int=str)
        elif suffix == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                import tomli as tomllib  # type: ignore[no-redef]
            loaded = tomllib.loads(text)
        else:
            loaded = _yaml_load(text)
    except LoadError:
        raise
    except RecursionError:
        raise LoadError(f"{path.name} is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, TOMLDecodeError
        raise LoadError(f"{path.name} is not valid {suffix[1:].upper()}: {str(exc)[:120]}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise LoadError(f"{path.name} must be a mapping of part ID to answer, not a {type(loaded).__name__}")
    if len(loaded) > MAX_PARTS:
        raise LoadError(f"{path.name} has {len(loaded)} entries; an assignment has far fewer parts")
    return {str(k).strip(): v for k, v in loaded.items()}
