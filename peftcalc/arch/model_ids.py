"""What ``--model`` accepts: a bundled preset's name, a Hugging Face id (``meta-llama/Llama-3.1-8B``, any case),
a common alias (``llama-3.1-8b``, ``Meta-Llama-3-8B``), or a model in the local Hugging Face cache.

Order: an id with an owner (``org/name``) is looked up in the local cache first — ``$HF_HUB_CACHE``, else
``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``, as ``models--org--name/snapshots/<rev>/config.json``
(the revision ``refs/main`` names, else the newest) — then among the presets. peftcalc never downloads.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from peftcalc.errors import InputError


def hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


def cached_config(model_id: str) -> Path | None:
    """The config.json of ``org/name`` in the local Hugging Face cache, or None."""
    if model_id.count("/") != 1:
        return None
    cache = hub_cache()
    if not cache.is_dir():
        return None
    wanted = "models--" + model_id.replace("/", "--").lower()
    folder = next((p for p in cache.iterdir() if p.name.lower() == wanted), None)
    if folder is None:
        return None
    ref = folder / "refs" / "main"
    if ref.is_file():
        pinned = folder / "snapshots" / ref.read_text().strip() / "config.json"
        if pinned.is_file():
            return pinned
    found = sorted((p for p in (folder / "snapshots").glob("*/config.json")), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def normalise(name: str) -> str:
    """An alias key: owner dropped, lower case, ``meta-``/``-hf`` dropped (``Meta-Llama-3-8B`` → ``llama-3-8b``)."""
    key = name.strip().rsplit("/", 1)[-1].lower()
    key = re.sub(r"^meta-", "", key)
    return re.sub(r"-hf$", "", key)


def preset_for(name: str, presets: dict[str, str]) -> str | None:
    """The preset a name means: its file name, its Hugging Face id (``presets``: name → id) or an alias."""
    low = name.strip().lower()
    for preset, hub_id in presets.items():
        if low in (preset, hub_id.lower()):
            return preset
    key = normalise(name)
    owner = name.strip().rsplit("/", 1)[0].lower() if "/" in name else None
    # an owner, when given, must be the preset's own ("anyone/qwen3-8b" is not Qwen/Qwen3-8B)
    matches = [p for p, hub_id in presets.items() if key in (normalise(p), normalise(hub_id))
               and (owner is None or hub_id.lower().startswith(owner + "/"))]
    return matches[0] if len(matches) == 1 else None


def unknown(name: str, presets: dict[str, str]) -> InputError:
    looked = f"; not in the local Hugging Face cache ({hub_cache()})" if "/" in name else ""
    return InputError("--model", name, f"a bundled preset ({', '.join(sorted(presets))}) or a Hugging Face id"
                      f"{looked}. peftcalc never downloads: pass --config path/to/config.json (or the model's folder)")
