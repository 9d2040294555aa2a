"""Sweep every config × every method against the real transformers + peft (``pip install '.[hf]'``).

    python scripts/crosscheck_peft.py                      # tests/data/configs and tests/data/golden/configs
    python scripts/crosscheck_peft.py path/to/config.json  # chosen configs
    python scripts/crosscheck_peft.py --markdown           # the table for benchmarks/RESULTS.md
    python scripts/crosscheck_peft.py --write tests/data/configs/peft_counts.json   # what the offline tests check

Each (config, method): peft's (trainable, all) against peftcalc's; where peft refuses, peftcalc must refuse
too. Exit 1 when anything disagrees, 2 when the libraries are missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "tests" / "data" / "configs"
DEFAULT = [*sorted(p for p in CONFIGS.glob("*.json") if p.name != "peft_counts.json"), *sorted(CONFIGS.glob("heads/*.json")),
           *sorted(CONFIGS.glob("variants/*.json")),
           *sorted((ROOT / "tests" / "data" / "golden" / "configs").glob("*.json"))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="*", type=Path, help="config.json files (default: the test data)")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table per model")
    ap.add_argument("--write", type=Path, metavar="FILE", help="record peft's counts and refusals as JSON")
    args = ap.parse_args(argv)
    from peftcalc.verify.hf_peft import available, crosscheck

    why = available()
    if why:
        print(f"crosscheck_peft: {why}", file=sys.stderr)
        return 2
    import peft
    import transformers

    paths = args.configs or DEFAULT
    per_model: dict[str, Counter[str]] = {}
    failures: list[str] = []
    records: dict[str, dict[str, object]] = {}
    for path in paths:
        inside = path.resolve().is_relative_to(CONFIGS)
        name = path.resolve().relative_to(CONFIGS).with_suffix("").as_posix() if inside else f"{path.parent.parent.name}/{path.stem}"
        cfg = json.loads(path.read_text())
        tally: Counter[str] = Counter()
        try:
            record: dict[str, object] = {"file": path.resolve().relative_to(CONFIGS).as_posix() if inside else path.name,
                                         "cases": []}
            records[name] = record
            for check in crosscheck([(name, cfg)]):
                tally[check.status] += 1
                data = dict(check.numbers or {})
                if "base" in data:
                    record["base"] = data["base"]
                elif data:
                    data.pop("peftcalc", None)
                    record["cases"].append(data)  # type: ignore[attr-defined]
                if check.status == "fail":
                    failures.append(f"{check.name}: {check.detail}")
        except Exception as exc:  # one model's refusal (peftcalc or transformers) must not hide the others
            tally["error"] += 1
            failures.append(f"{name}: {type(exc).__name__}: {str(exc)[:160]}")
        per_model[name] = tally
        print(f"{name:32} {dict(tally)}", file=sys.stderr)
    if args.markdown:
        print(f"| model | pass | fail | error |  (transformers {transformers.__version__}, peft {peft.__version__})")
        print("|---|---|---|---|")
        for name, tally in per_model.items():
            print(f"| {name} | {tally['pass']} | {tally['fail']} | {tally['error']} |")
    for line in failures:
        print("FAIL " + line)
    if args.write:
        meta = {"transformers": transformers.__version__, "peft": peft.__version__,
                "how": "python scripts/crosscheck_peft.py --write FILE (each model on the meta device, "
                       "PeftModel.get_nb_trainable_parameters() -> [trainable, all], or peft's refusal)"}
        built = {k: v for k, v in records.items() if v["cases"] and "base" in v and not k.startswith("golden/")}
        args.write.write_text(json.dumps({"meta": meta, "models": built}, indent=1) + "\n")
    total: Counter[str] = Counter()
    for tally in per_model.values():
        total.update(tally)
    print(f"{len(per_model)} models: {total['pass']} agree, {total['fail']} differ, {total['error']} models not built")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
