"""Chapter 24's LR finder (24.14), EWC (24.16), multi-LoRA serving (24.17), data mixing (24.18) and chat-template
validator (24.20 d): each classic mistake, a one-place mutant of the reference, loses points on its own exercise
and nowhere else (graded in the real sandbox); the judges, fed the reference's values and those of more mistakes
computed in this process, give full marks and name each mistake.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from mutation import SEED, assert_mutant_loses_only, reference

from grader import assignments
from grader.assignments.chapter24 import chat_template, ewc, lr_finder, multi_lora
from grader.code.checks import tensor
from grader.sandbox import ops

EXERCISES = ("24.14", "24.16", "24.17", "24.18", "24.20")

# (name, exercise, snippet of the reference, replacement): graded in the sandbox
MUTANTS = [
    ("linear lr sweep", "24.14", "return [start_lr * ratio ** (i / (steps - 1)) for i in range(steps)]",
     "return [start_lr + (end_lr - start_lr) * i / (steps - 1) for i in range(steps)]"),
    ("lr of the minimum loss", "24.14",
     "steepest = min(range(len(slopes)), key=lambda i: slopes[i])\n    return lrs[steepest], lrs[steepest + 1]",
     "lowest = min(range(len(losses)), key=lambda i: losses[i])\n    return lrs[lowest - 1], lrs[lowest]"),
    ("Fisher from the mean gradient", "24.16", "torch.stack([g[name] ** 2 for g in grads]).mean(dim=0)",
     "torch.stack([g[name] for g in grads]).mean(dim=0) ** 2"),
    ("penalty without theta star", "24.16", "(params[name] - old_params[name]) ** 2", "params[name] ** 2"),
    ("switching accumulates merges", "24.17",
     "        for layer, weight in self.original.items():   # back to the base weights first\n"
     "            self.linears[layer].weight.copy_(weight)\n", ""),
    ("adapter without its scaling", "24.17", "scaling * ab[\"B\"] @ ab[\"A\"]", "ab[\"B\"] @ ab[\"A\"]"),
    ("alpha as the general fraction", "24.18", "n_task = round(alpha * n)", "n_task = round((1 - alpha) * n)"),
    ("mixture not shuffled", "24.18", "    rng.shuffle(mixture)\n", ""),
    ("missing end-of-turn accepted", "24.20",
     "        if not rest.endswith(\"<|eot_id|>\") or rest.count(\"<|eot_id|>\") != 1:\n"
     "            errors.append(f\"message {k + 1} ({role}): not closed by <|eot_id|>\")\n", ""),
    ("system turn accepted on Gemma", "24.20",
     "            errors.append(\"Gemma has no system role\")", "            continue"),
]


@pytest.mark.parametrize("name, exercise, old, new", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_mutant_loses_points_only_on_its_exercise(name, exercise, old, new):
    assert_mutant_loses_only("chapter24", exercise, old, new, name)


def test_every_new_exercise_has_two_mutants():
    assert all(sum(m[1] == e for m in MUTANTS) >= 2 for e in EXERCISES)


# ---- in this process: the judges on the values a (mutated) reference returns ----

def _judged(source: str, tmp_path, seed: int = SEED) -> dict[str, tuple[Fraction, str]]:
    """Every check of the new exercises run on ``source`` in this process: check id → (share, message)."""
    path = tmp_path / "submission.py"
    path.write_text(source)
    module = ops.load_module(str(path))
    chapter = {e.id: e for e in assignments.get("chapter24").exercises}
    out = {}
    for exercise in EXERCISES:
        for check in chapter[exercise].checks(seed):
            record = ops.run_all(module, [{"id": check.id, "ops": check.ops}])[0]
            out[check.id] = check.judge(record["values"], None) if record["ok"] else check.judge(None, record["error"])
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_reference_scores_full_marks_on_other_hidden_inputs(seed, tmp_path):
    judged = _judged(reference("chapter24"), tmp_path, seed)
    assert {cid: msg for cid, (share, msg) in judged.items() if share != 1} == {}


# (mistake, snippet, replacement, {check that loses: (its share, None: partial; words of its message)})
MISTAKES = [
    ("sweep ends short", "ratio ** (i / (steps - 1))", "ratio ** (i / steps)",
     {"24.14.schedule": (0, "one ratio short"), "24.14.finder": (Fraction(1, 2), "one ratio short")}),
    ("losses not recorded", "losses = [float(train_step(lr)) for lr in lrs]",
     "losses = [float(train_step(lr)) for lr in lrs][:-1]", {"24.14.finder": (Fraction(1, 2), "record every step")}),
    ("slope against lr", "(math.log(lrs[i + 1]) - math.log(lrs[i]))", "(lrs[i + 1] - lrs[i])",
     {"24.14.range": (0, "against lr, not log lr")}),
    ("steepest ascent", "key=lambda i: slopes[i])", "key=lambda i: -slopes[i])",
     {"24.14.range": (0, "rises fastest")}),
    ("Fisher summed", "for g in grads]).mean(dim=0)", "for g in grads]).sum(dim=0)",
     {"24.16.fisher": (Fraction(1, 2), "divide by N")}),
    ("penalty with lam", "return lam / 2 * total", "return lam * total",
     {"24.16.penalty": (Fraction(1, 2), "λ/2"), "24.16.grad": (0, "λ/2")}),
    ("penalty detached", "return lam / 2 * total", "return torch.tensor(lam / 2 * total.item())",
     {"24.16.grad": (0, "no autograd graph")}),
    ("Fisher ignored", "total = sum((fisher[name] * (params", "total = sum(((params",
     {"24.16.penalty": (0, "not weighted by the Fisher"), "24.16.grad": (0, "differ from λ F")}),
    ("loading activates", "for layer, ab in weights.items()}\n",
     "for layer, ab in weights.items()}\n        self.set_adapter(name)\n",
     {"24.17.base": (Fraction(2, 3), "loading does not activate")}),
    ("seed ignored", "rng = random.Random(seed)", "rng = random.Random()", {"24.18.seed": (0, "the same seed")}),
    ("seed fixed", "rng = random.Random(seed)", "rng = random.Random(0)", {"24.18.seed": (0, "two seeds")}),
    ("drawn with replacement", "mixture = rng.sample(list(task), n_task) + rng.sample(list(general), n - n_task)",
     "mixture = rng.choices(list(task), k=n_task) + rng.choices(list(general), k=n - n_task)",
     {"24.18.counts": (0, "without replacement")}),
    ("doubled BOS accepted", "    if text.count(bos) > 1:", "    if False:",
     {f"24.20.{family}": (None, "doubled") for family in ("llama3", "mistral", "gemma")}),
    ("last Mistral reply left open", "    elif state == \"reply\" and reply.strip():\n"
     "        errors.append(\"the last assistant reply is not closed by </s>\")\n", "",
     {"24.20.mistral": (None, "the last </s> missing")}),
    ("validator raises", "    errors = validators[family](text)\n",
     "    errors = validators[family](text)\n    if errors:\n        raise ValueError(errors[0])\n",
     {f"24.20.{family}": (0, "never raise") for family in ("llama3", "mistral", "gemma")}),
]


@pytest.mark.parametrize("mistake, old, new, lost", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_is_named_where_it_is_made(mistake, old, new, lost, tmp_path):
    source = reference("chapter24")
    assert source.count(old) == 1, mistake
    judged = _judged(source.replace(old, new), tmp_path)
    assert {cid for cid, (s, _) in judged.items() if s < 1} == set(lost), (mistake, judged)
    for cid, (share, words) in lost.items():
        got, message = judged[cid]
        assert (share is None and 0 < got < 1) or got == share, (mistake, cid, got, message)
        assert words in message, (mistake, cid, message)


# ---- the judges on hand-made values ----

def _lr_checks():
    return {c.id: c for c in lr_finder.EXERCISE.checks(SEED)}


def test_the_range_judge_names_the_minimum_and_accepts_only_the_steepest_pair():
    check = _lr_checks()["24.14.range"]
    lrs, losses = check.ops[0]["args"]
    lrs, losses = np.asarray(lrs), np.asarray(losses)
    i = lr_finder.steepest_pair(lrs, losses)
    assert check.judge([ops.encode((lrs[i], lrs[i + 1]))], None)[0] == 1
    assert check.judge([ops.encode((lrs[i + 1], lrs[i + 2]))], None)[0] == 0
    lowest = int(np.argmin(losses))
    share, message = check.judge([ops.encode((lrs[lowest - 1], lrs[lowest]))], None)
    assert share == 0 and "lowest" in message
    share, message = check.judge([ops.encode(lrs[i])], None)
    assert share == Fraction(1, 2) and "pair" in message


def test_the_synthetic_curve_has_one_clear_steepest_step():
    for seed in range(50):
        rng = np.random.default_rng(seed)
        curve = lr_finder.synthetic_curve(rng, 40)
        drops = np.sort(np.diff(curve))
        assert drops[1] - drops[0] > 0.03  # float32 rounding (1e-7) never swaps the first two
        lrs = lr_finder.geometric(1e-6, 1.0, 40)
        assert lr_finder.steepest_pair(lrs, curve, against_log=False) != lr_finder.steepest_pair(lrs, curve)


def test_the_finder_judge_replays_the_training_step():
    check = _lr_checks()["24.14.finder"]
    env: dict = {}
    ops.HELPERS["quadratic_train_step"](env, *check.ops[0]["args"])
    lrs = lr_finder.geometric(*check.ops[1]["args"][1:])
    losses = [env["step"](lr) for lr in lrs]
    assert check.judge([ops.encode(env["calls"]), ops.encode(list(lrs)), ops.encode(losses)], None)[0] == 1
    shifted = losses[1:] + losses[-1:]
    share, message = check.judge([ops.encode(env["calls"]), ops.encode(list(lrs)), ops.encode(shifted)], None)
    assert share == Fraction(1, 2) and "return (lrs, losses)" in message


def test_the_fisher_judge_names_the_square_of_the_mean():
    check = {c.id: c for c in ewc.EXERCISE.checks(SEED)}["24.16.fisher"]
    grads = [{k: ops.decode(v, {}).double().numpy() for k, v in g.items()} for g in check.ops[0]["args"][0]]
    mean_sq = {k: np.mean([g[k] for g in grads], axis=0) ** 2 for k in grads[0]}
    sq_mean = {k: np.mean([g[k] ** 2 for g in grads], axis=0) for k in grads[0]}
    assert check.judge([ops.encode(sq_mean)], None)[0] == 1
    share, message = check.judge([ops.encode(mean_sq)], None)
    assert share == 0 and "E[g²], not E[g]²" in message
    assert check.judge([ops.encode({"layer.weight": sq_mean["layer.weight"]})], None)[0] == 0  # a name missing


def test_the_switch_judge_recognises_accumulated_adapters():
    """The judge's own merged outputs: the right sequence scores full, the accumulated one is named."""
    check = {c.id: c for c in multi_lora.EXERCISE.checks(SEED)}["24.17.switch"]
    env: dict = {}
    for op in check.ops:
        if op["op"] == "exec":
            ops.HELPERS[op["helper"]](env, *op["args"])
    import torch

    base, x = env["base"], env["x"]
    loads = [op for op in check.ops if op.get("func") == "load_adapter"]
    deltas = {op["args"][0]: {layer: op["kwargs"]["scaling"] * ops.decode(ab["B"], {}) @ ops.decode(ab["A"], {})
                              for layer, ab in op["args"][1].items()} for op in loads}
    sequence = [op["args"][0] for op in check.ops if op.get("func") == "set_adapter"]
    modules = dict(base.named_modules())
    original = {n: m.weight.detach().clone() for n, m in modules.items() if isinstance(m, torch.nn.Linear)}

    def outputs(accumulate: bool) -> list:
        out = []
        with torch.no_grad():
            for n, w in original.items():
                modules[n].weight.copy_(w)
            for name in sequence:
                if not accumulate:
                    for n, w in original.items():
                        modules[n].weight.copy_(w)
                for layer, d in deltas[name].items():
                    modules[layer].weight += d
                out.append(ops.encode(base(x)))
        return out

    assert check.judge(outputs(accumulate=False), None)[0] == 1
    share, message = check.judge(outputs(accumulate=True), None)
    assert share == Fraction(1, 5) and "accumulate" in message


def test_the_chat_fixtures_follow_the_published_formats():
    fixtures = chat_template.fixtures(np.random.default_rng(0))
    llama = [f for f in fixtures["llama3"] if f.well_formed]
    assert all(f.text.startswith("<|begin_of_text|><|start_header_id|>") for f in llama)
    assert llama[0].text.count("<|eot_id|>") == 2 and llama[0].text.endswith("<|eot_id|>")
    assert llama[2].text.endswith("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    mistral = [f for f in fixtures["mistral"] if f.well_formed]
    assert mistral[0].text.startswith("<s>[INST] ") and mistral[0].text.endswith("</s>")
    assert " [/INST]" in mistral[1].text and mistral[1].text.endswith(" [/INST]")
    gemma = [f for f in fixtures["gemma"] if f.well_formed]
    assert gemma[0].text.startswith("<bos><start_of_turn>user\n") and "<start_of_turn>model\n" in gemma[0].text
    assert all("assistant" not in f.text and "system" not in f.text for f in gemma)
    assert all(f.text.endswith("<end_of_turn>\n") or f.text.endswith("<start_of_turn>model\n") for f in gemma)
    assert {f.kind for fam in fixtures.values() for f in fam if not f.well_formed} == set(chat_template.LESSONS)


def test_the_validator_judge_gives_nothing_to_trivial_validators():
    for check in chat_template.EXERCISE.checks(SEED):
        n = len([op for op in check.ops if op["op"] == "call"])
        assert check.judge([ops.encode([])] * n, None)[0] == 0          # accepts everything
        assert check.judge([ops.encode(["bad"])] * n, None)[0] == 0     # rejects everything
        assert check.judge([ops.encode(True)] * n, None)[0] == 0
        assert check.judge([ops.encode("no")] * n, None)[0] == 0        # not an answer


def test_the_spec_states_the_conventions():
    spec = assignments.get("chapter24").spec_text()
    for words in ("lr_i = start_lr · (end_lr / start_lr)^(i / (steps − 1))",
                  "(lam/2) · Σ_names Σ F ⊙ (θ − θ*)²", "ΔW = scaling · B @ A", "round(alpha · n)",
                  "<start_of_turn>ROLE\\nCONTENT<end_of_turn>\\n", "Not graded"):
        assert words in spec, words
    ids = list(assignments.get("chapter24").exercise_ids)
    assert ids == sorted(ids, key=lambda e: [int(p) for p in e.split(".")])  # reported in exercise order


def test_the_helpers_build_what_the_judges_replay():
    env: dict = {}
    ops.HELPERS["quadratic_train_step"](env, "step", "calls", [1.0, 4.0], [1.0, -2.0])
    assert env["step"](0.1) == pytest.approx(0.5 * (1 + 16)) and env["calls"] == [0.1]
    assert lr_finder.replay([1.0, 4.0], [1.0, -2.0], np.array([0.1, 0.2]))[1] == pytest.approx(env["step"](0.2))
    ops.HELPERS["mlp"](env, "net", [[tensor(np.eye(2)), tensor(np.zeros(2))], [tensor(np.ones((1, 2))), tensor([0.5])]])
    import torch

    assert env["net"](torch.tensor([[1.0, -3.0]])).item() == pytest.approx(1.5)  # ReLU between the two linears
    env["p"] = {"w": torch.tensor([1.0, 2.0])}
    ops.HELPERS["requires_grad"](env, "p")
    env["loss"] = (env["p"]["w"] ** 2).sum()
    ops.HELPERS["backward_grads"](env, "loss", "p", "g")
    assert env["g"]["w"].tolist() == [2.0, 4.0]
    env["flat"] = 3.0
    ops.HELPERS["backward_grads"](env, "flat", "p", "g2")
    assert env["g2"] == "no autograd graph"
