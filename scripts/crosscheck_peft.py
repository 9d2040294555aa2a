"""Cross-check peftcalc's counts against the real transformers + peft, on the meta device.

    pip install -e '.[hf]'          # torch 2.13.0 (CPU), transformers 5.23.0, peft 0.21.2
    python scripts/crosscheck_peft.py [PRESET ...]

For every preset (or those named) and nine methods, builds the model from the preset's config.json
with transformers on the meta device, applies the peft config, and compares
``get_nb_trainable_parameters()`` (trainable, all) with peftcalc's count. Where peft refuses a
configuration, peftcalc must refuse it too. Prints one line per case and the number of mismatches;
exits 1 if there is any. (Seed of issue 5's ``peftcalc verify --against-peft``.)
"""
import sys
import warnings

warnings.filterwarnings("ignore")
import peft  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from peftcalc import params, load_preset, list_presets
from peftcalc.arch.presets import preset_config

def build(name):
    cfg = dict(preset_config(name)); arch = cfg.get("architectures", [""])[0]
    mt = cfg["model_type"]
    config = transformers.AutoConfig.for_model(mt, **{k: v for k, v in cfg.items() if not k.startswith("_") and k not in ("model_type", "architectures")})
    with torch.device("meta"):
        if mt in ("bert", "roberta"):
            return transformers.AutoModel.from_config(config), None
        if mt == "t5":
            return transformers.T5ForConditionalGeneration(config), "SEQ_2_SEQ_LM"
        return transformers.AutoModelForCausalLM.from_config(config), "CAUSAL_LM"

CASES = [
    ("lora", dict(r=16, targets=["all-linear"]), lambda: peft.LoraConfig(r=16, target_modules="all-linear")),
    ("dora", dict(r=8), lambda: peft.LoraConfig(r=8, use_dora=True)),
    ("ia3", dict(), lambda: peft.IA3Config()),
    ("loha", dict(r=4), lambda: peft.LoHaConfig(r=4)),
    ("lokr", dict(r=4), lambda: peft.LoKrConfig(r=4)),
    ("vera", dict(r=64), lambda: peft.VeraConfig(r=64)),
    ("prefix_tuning", dict(tokens=10), lambda: peft.PrefixTuningConfig(num_virtual_tokens=10)),
    ("prompt_tuning", dict(tokens=10), lambda: peft.PromptTuningConfig(num_virtual_tokens=10)),
    ("ln_tuning", dict(), lambda: peft.LNTuningConfig()),
]
rows = []
for name in (sys.argv[1:] or list_presets()):
    try:
        model, task = build(name)
    except Exception as e:
        rows.append((name, "build", "ERROR", repr(e)[:100])); continue
    base = sum(p.numel() for p in model.parameters())
    rows.append((name, "base", base == load_preset(name).total_params, f"hf {base:,} peftcalc {load_preset(name).total_params:,}"))
    for method, opts, mk in CASES:
        try:
            ours = params(method, model=name, **opts)
        except Exception as e:
            ours = e
        try:
            model, task = build(name)
            cfg = mk()
            cfg.task_type = task or "FEATURE_EXTRACTION"
            pm = peft.get_peft_model(model, cfg)
            tr, al = pm.get_nb_trainable_parameters()
        except Exception as e:
            # both refusing is agreement; peft refusing what peftcalc answers is a mismatch
            rows.append((name, method, "peft-error" if isinstance(ours, Exception) else "MISMATCH", f"peft raised {type(e).__name__}: {str(e)[:80]}; ours {ours if isinstance(ours, Exception) else ours.trainable_params}"))
            continue
        if isinstance(ours, Exception):
            rows.append((name, method, "MISMATCH", f"ours raised {ours}; peft {tr},{al}")); continue
        ok = (tr, al) == (ours.trainable_params, ours.total_params)
        rows.append((name, method, ok, f"peft ({tr:,}, {al:,}) ours ({ours.trainable_params:,}, {ours.total_params:,})"))
for r in rows:
    print(*r)
bad = sum(1 for r in rows if r[2] not in (True, "peft-error"))
print("mismatches:", bad)
sys.exit(1 if bad else 0)
