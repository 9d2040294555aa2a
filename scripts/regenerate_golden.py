"""Retake tests/data/golden/peft_counts.json from the real transformers + peft (``pip install '.[hf]'``).

Every row keeps its experiment and its full ``peft_config``; the model is rebuilt from
``tests/data/golden/configs/<model>.json`` on the meta device, wrapped with ``peft.get_peft_model`` and
counted with ``PeftModel.get_nb_trainable_parameters()`` → (trainable, all). BitFit rows (peft has no
BitFit) are Σ numel of the parameters named ``*.bias``.

    python scripts/regenerate_golden.py            # compare: print every row that the libraries now count differently
    python scripts/regenerate_golden.py --write    # rewrite the file (and its "meta" versions)

Exit code 1 when a row differs (compare mode), 2 when the libraries are missing.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import warnings
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "data" / "golden"


def _count(cfg: dict[str, Any], row: dict[str, Any]) -> tuple[int, int, int]:
    """(trainable, all, base) for one row, from the real libraries."""
    import peft
    import torch

    from peftcalc.verify.hf_peft import build_model

    model, _task = build_model(cfg)
    base = sum(p.numel() for p in model.parameters())
    if "peft_config" not in row:  # BitFit: the biases alone
        return sum(p.numel() for n, p in model.named_parameters() if n.endswith(".bias")), base, base
    options = dict(row["peft_config"])
    if options["peft_type"] == "ADALORA":  # a schedule length peft insists on; it changes no count
        options.setdefault("total_step", 100)
    pcfg = peft.get_peft_config(options)
    with torch.device("meta"):  # inside the meta context, as the values were first taken (see hf_peft.crosscheck)
        pm = peft.get_peft_model(model, pcfg)
    trainable, total = pm.get_nb_trainable_parameters()
    return int(trainable), int(total), base


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="rewrite peft_counts.json instead of comparing")
    args = ap.parse_args(argv)
    try:
        import peft
        import torch
        import transformers
    except ImportError as exc:
        print(f"regenerate_golden: {exc.name} is not installed (pip install '.[hf]')", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore")
    path = GOLDEN / "peft_counts.json"
    data = json.loads(path.read_text())
    configs = {p.stem: json.loads(p.read_text()) for p in sorted((GOLDEN / "configs").glob("*.json"))}
    differ = 0
    for i, row in enumerate(data["rows"], 1):
        trainable, total, base = _count(configs[row["model"]], row)
        print(f"\r{i}/{len(data['rows'])} {row['model']} {row['experiment']:<40}", end="", file=sys.stderr)
        if (trainable, total, base) != (row["trainable"], row["all"], row["base_params"]):
            differ += 1
            print(f"\n{row['model']} {row['experiment']}: file ({row['trainable']:,}, {row['all']:,}), "
                  f"now ({trainable:,}, {total:,})")
        row.update(trainable=trainable, all=total, base_params=base,
                   trainable_pct=round(100 * trainable / total, 6) if total else 0.0)
    print(file=sys.stderr)
    if args.write:
        data["meta"].update(torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__,
                            python=platform.python_version())
        path.write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {path} ({len(data['rows'])} rows, {differ} changed)")
        return 0
    print(f"{len(data['rows']) - differ} of {len(data['rows'])} rows agree with transformers "
          f"{transformers.__version__} + peft {peft.__version__}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
