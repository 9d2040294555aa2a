"""Chapter 24's exercises 24.22, 24.23, 24.27 (a–b), 24.29 (a–b) and 24.30 (a, c): each classic mistake (a one-place
mutant of the reference) loses points on its own exercise only, in the real sandbox; the judges name the mistake,
hold for any run seed, and give nothing for data that is not an answer.

The sandbox runs are the expensive part (one graded submission each), so the rest of the mistakes are shown on
the judges directly: the check's ops run in this process on the mutated reference (ops.run_ops, as the jail
runs them) and the judge reads the encoded result.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from mutation import assert_mutant_loses_only, reference

from grader import assignments
from grader.assignments.chapter24 import UNGRADED, dataset_quality, response_masking, search, structured_output
from grader.sandbox import ops

pytest.importorskip("torch")

EXERCISES = ("24.22", "24.23", "24.27", "24.29", "24.30")

# (name, exercise, snippet of the reference, replacement): each one a graded run in the sandbox (two per
# exercise: a run costs ~1–2 s; the other mistakes are shown on the judges below)
SANDBOX_MUTANTS = [
    ("unfreezes from the input side", "24.22", "return list(range(n_layers - count, n_layers))",
     "return list(range(count))"),
    ("does not freeze the other blocks", "24.22", "            p.requires_grad_(i in on)",
     "            if i in on:\n                p.requires_grad_(True)"),
    ("alpha is the multiplier", "24.23", "for alpha in (rank, 2 * rank):", "for alpha in (1, 2):"),
    ("random search with replacement", "24.23", "random.Random(seed).sample(list(space), n)",
     "random.Random(seed).choices(list(space), k=n)"),
    ("distinct-n as a mean of per-text ratios", "24.27",
     "        grams += [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]\n"
     "    return len(set(grams)) / len(grams) if grams else 0.0",
     "        grams.append([tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)])\n"
     "    ratios = [len(set(g)) / len(g) for g in grams if g]\n"
     "    return sum(ratios) / len(ratios) if ratios else 0.0"),
    ("near-duplicates by raw dot product", "24.27",
     "unit = torch.nn.functional.normalize(embeddings.double(), dim=1)", "unit = embeddings.double()"),
    ("forgot the shift", "24.29",
     "    shift_logits = logits[:, :-1, :]    # position t predicts token t + 1\n    shift_labels = labels[:, 1:]",
     "    shift_logits = logits\n    shift_labels = labels"),
    ("masked the response instead of the prompt", "24.29", "return torch.where(response_mask.bool(), input_ids",
     "return torch.where(~response_mask.bool(), input_ids"),
    ("any JSON value counts", "24.30", "    return obj if isinstance(obj, dict) else None", "    return obj"),
    ("booleans pass as integers", "24.30",
     "    if isinstance(value, bool):          # bool is a subclass of int in Python, not a number in JSON\n"
     "        return kind == \"boolean\"\n", ""),
]


def test_every_new_exercise_has_mutants():
    per_exercise = {ex: sum(m[1] == ex for m in SANDBOX_MUTANTS) for ex in EXERCISES}
    assert all(n >= 2 for n in per_exercise.values()), per_exercise


@pytest.mark.parametrize("name, exercise, old, new", SANDBOX_MUTANTS, ids=[m[0] for m in SANDBOX_MUTANTS])
def test_mutant_loses_points_only_on_its_exercise(name, exercise, old, new):
    assert_mutant_loses_only("chapter24", exercise, old, new, name)


# ---------------------------------------------------------------- the judges, run in this process

def _checks(seed: int = 1):
    return {c.id: c for c in assignments.get("chapter24").checks(seed) if c.exercise in EXERCISES}


def _judged(source: str, check_id: str, tmp_path, seed: int = 1) -> tuple[Fraction, str]:
    return _judge(_load(source, tmp_path), _checks(seed)[check_id])


def _load(source: str, tmp_path):
    path = tmp_path / "submission.py"
    path.write_text(source)
    return ops.load_module(str(path))


def _judge(module, check) -> tuple[Fraction, str]:
    try:
        values = ops.run_ops(module, check.ops)
    except Exception as exc:  # noqa: BLE001 - as the jail reports it
        return check.judge(None, ops.describe_error(exc))
    return check.judge(values, None)


def _mutated(old: str, new: str) -> str:
    source = reference("chapter24")
    assert source.count(old) == 1, old
    return source.replace(old, new)


# (check, snippet, replacement, a phrase of the feedback that names the mistake)
JUDGED_MUTANTS = [
    ("24.22.schedule", "stage = step // every_n", "stage = (step + 1) // every_n", "one step early"),
    ("24.23.grid", "    return _best_of(space, objective)",
     "    best, _ = _best_of(space, objective)\n    return best, objective(best)", "called 91 times"),
    ("24.27.tasks", "return {task: c / len(tasks) for", "return {task: c for", "these are counts"),
    ("24.29.masked", "shift_labels.reshape(-1), ignore_index=-100)",
     "shift_labels.reshape(-1), ignore_index=-100, reduction='sum') / shift_labels.numel()", "masked ones included"),
    ("24.30.rate", "sum(_parse_object(o, allow_fence) is not None for o in outputs)",
     "sum(bool(_parse_object(o, allow_fence)) for o in outputs)", "{} was rejected"),
    ("24.22.schedule", "count = min(n_layers, start + per_stage * stage)", "count = start + per_stage * stage",
     "cap the count at n_layers"),
    ("24.22.schedule", "stage = step // every_n", "stage = max(0, (step - 1) // every_n)", "one step late"),
    ("24.22.apply", "            p.requires_grad_(i in on)",
     "            if p.dim() == 2:\n                p.requires_grad_(i in on)", "partly trainable"),
    ("24.22.apply", "return list(range(n_layers - count, n_layers))", "return list(range(count))",
     "unfreeze from the top"),
    ("24.23.grid", 'best, best_loss = None, float("inf")\n    for config in configs:\n        loss = objective(config) '
                   '  # one training run per config: evaluate once, keep the loss\n        if loss < best_loss:',
     'best, best_loss = None, float("-inf")\n    for config in configs:\n        loss = objective(config)\n'
     '        if loss > best_loss:', "lower validation loss is better"),
    ("24.23.grid", "    return _best_of(space, objective)", "    return _best_of(space[:-1], objective)",
     "evaluated 89 of the 90"),
    ("24.23.random", "random.Random(seed).sample", "random.Random().sample", "the same seed gave different samples"),
    ("24.23.random", "random.Random(seed).sample", "random.Random(0).sample", "the seed argument must choose"),
    ("24.23.space", '["qv", "qkvo", "all-linear"]', '["qv", "qkvo"]', "expected 5·2·3·3 = 90"),
    ("24.27.distinct", "tokens = text.split()", "tokens = text.lower().split()", "lowercased"),
    ("24.27.distinct", "tokens = text.split()", "tokens = text.split(' ')", "split()"),
    ("24.27.distinct", "return len(set(grams)) / len(grams) if grams else 0.0",
     "return len(set(grams)) / sum(len(t.split()) for t in texts)", "number of tokens"),
    ("24.27.duplicates", "diagonal=1)", "diagonal=0)", "self-pairs"),
    ("24.27.templates", "    t = instruction.lower()\n", "    t = instruction\n", "lowercase the instruction"),
    ("24.27.templates", r'''t = re.sub(r"\d+(?:\.\d+)?", "<num>", t)''', r'''t = re.sub(r"\d+", "<num>", t)''',
     "decimal part"),
    ("24.27.templates", "    t = re.sub(r'\"[^\"]*\"', \"<str>\", t)\n",
     "    t = re.sub(r'\"[^\"]*\"', \"<str>\", t)\n    t = re.sub(r\"'[^']*'\", \"<str>\", t)\n", "apostrophes"),
    ("24.27.tasks", "return {task: c / len(tasks) for", "return {task: 100 * c / len(tasks) for", "percentages"),
    ("24.29.shift", "    shift_logits = logits[:, :-1, :]    # position t predicts token t + 1\n"
                    "    shift_labels = labels[:, 1:]",
     "    shift_logits = logits[:, 1:, :]\n    shift_labels = labels[:, :-1]", "shifted the wrong way"),
    ("24.29.masked", "    return torch.nn.functional.cross_entropy(shift_logits.reshape(-1, shift_logits.size(-1)),\n"
                     "                                             shift_labels.reshape(-1), ignore_index=-100)",
     "    losses = torch.nn.functional.cross_entropy(shift_logits.transpose(1, 2), shift_labels, reduction='none')\n"
     "    valid = (shift_labels != -100).float()\n"
     "    return ((losses * valid).sum(1) / valid.sum(1)).mean()", "per-sequence means"),
    ("24.29.labels", "return torch.where(attention_mask.bool(), input_ids, torch.full_like(input_ids, -100))",
     "return torch.where(attention_mask.bool(), input_ids, torch.zeros_like(input_ids))", "not 0"),
    ("24.30.compare", '"change": a - b', '"change": b - a', "after − before"),
    ("24.30.fence", "    if allow_fence:\n        fence", "    if False:\n        fence", "not stripped"),
    ("24.30.rate", "    if allow_fence:\n        fence", "    if True:\n        fence",
     "count only with allow_fence=True"),
    ("24.30.schema", "all(key in obj and _has_type", "all(key not in obj or _has_type", "missing key"),
    ("24.30.schema_unparsable", "    except json.JSONDecodeError:\n        return None\n",
     "    except ZeroDivisionError:\n        return None\n", "not raise"),
]


def test_the_reference_scores_full_marks_on_the_judges(tmp_path):
    module = _load(reference("chapter24"), tmp_path)
    for check in _checks().values():
        share, message = _judge(module, check)
        assert share == 1, (check.id, message)


@pytest.mark.parametrize("check_id, old, new, phrase", JUDGED_MUTANTS,
                         ids=[f"{m[0]}:{m[3]}" for m in JUDGED_MUTANTS])
def test_the_judge_names_the_mistake(check_id, old, new, phrase, tmp_path):
    share, message = _judged(_mutated(old, new), check_id, tmp_path)
    assert share < 1 and phrase in message, (share, message)


def test_hidden_inputs_hold_for_any_run_seed(tmp_path):
    """Every run seed draws new inputs (embeddings, schedules, tables); the reference keeps full marks and a
    mistake keeps losing, whatever they are."""
    module = _load(reference("chapter24"), tmp_path)
    wrong_shift = _mutated("    shift_logits = logits[:, :-1, :]    # position t predicts token t + 1\n"
                           "    shift_labels = labels[:, 1:]", "    shift_logits = logits\n    shift_labels = labels")
    raw_dot = _mutated("unit = torch.nn.functional.normalize(embeddings.double(), dim=1)", "unit = embeddings.double()")
    for seed in range(2, 10):
        checks = _checks(seed)
        for check in checks.values():
            share, message = _judge(module, check)
            assert share == 1, (seed, check.id, message)
        assert _judged(wrong_shift, "24.29.shift", tmp_path, seed)[0] == 0
        assert _judged(raw_dot, "24.27.duplicates", tmp_path, seed)[0] == 0


GARBAGE = [None, "text", 3, [], [1, 2], {"unencodable": "object"}, {"seq": [None, "x"]}, {"dict": {"a": None}},
           {"b64": "!!!", "shape": [2]}, {"b64": "", "shape": [3]}]


def test_judges_give_nothing_for_data_that_is_not_an_answer():
    for check in _checks().values():
        assert check.grade(None, "NameError: name 'x' is not defined")[0] == 0
        for filler in GARBAGE:
            for count in (0, 1, 12):
                share, message = check.grade([filler] * count, None)
                assert share == 0 and isinstance(message, str), (check.id, filler, count, share, message)


# ---------------------------------------------------------------- the hidden inputs tell the mistakes apart

def test_each_validity_mistake_moves_the_rate_by_its_own_amount():
    outputs = (structured_output.VALID + structured_output.FENCED + structured_output.NOT_OBJECTS
               + structured_output.PYTHON + structured_output.BROKEN)
    for allow_fence in (False, True):
        want = structured_output.rate_reference(outputs, allow_fence)
        readings = list(structured_output._rate_readings(outputs, allow_fence).values())
        assert want not in readings
        assert len(set(readings)) == len(readings), allow_fence


def test_schema_types_follow_json_schema():
    schema = structured_output.SCHEMA
    assert structured_output.schema_reference(structured_output._doc(), schema)
    assert not structured_output.schema_reference(structured_output._doc(age=True), schema)
    assert structured_output.schema_reference(structured_output._doc(age=36.0), schema)  # zero fraction: integer
    assert not structured_output.schema_reference('{"name": "Ada"}', schema)


def test_near_duplicate_inputs_keep_clear_of_the_threshold():
    for seed in range(5):
        e = dataset_quality._embeddings(np.random.default_rng(seed))
        sim = dataset_quality._cosine(e)[np.triu_indices(len(e), 1)]
        assert np.all(np.abs(sim - dataset_quality.THRESHOLD) > 0.02)
        cosine = dataset_quality.near_duplicate_reference(e, dataset_quality.THRESHOLD)
        assert {(0, 1)} != cosine and len(cosine) >= 7  # 4 planted pairs and a triple (3 pairs) at least
        dot = e @ e.T
        raw = {(i, j) for i, j in itertools.combinations(range(len(e)), 2) if dot[i, j] >= dataset_quality.THRESHOLD}
        assert raw != cosine


def test_every_distinct_n_mistake_shows_on_some_n():
    """The check asks for distinct-1, -2 and -3: each mistake must give a wrong value for at least one of them."""
    for seed in range(10):
        texts = dataset_quality._distinct_texts(np.random.default_rng(seed))
        differs: dict[str, bool] = {}
        for n in (1, 2, 3):
            want = dataset_quality.distinct_reference(texts, n)
            for why, r in dataset_quality._distinct_readings(texts, n).items():
                differs[why] = differs.get(why, False) or abs(r - want) > 1e-9
        assert all(differs.values()), (seed, differs)


def test_loss_readings_differ_from_the_reference():
    batch = response_masking._batch(np.random.default_rng(0))
    labels = np.where(batch["attention"] == 1, batch["ids"], -100)
    want = response_masking.loss_reference(batch["logits"], labels)
    assert all(abs(r - want) > 1e-3 for r in response_masking._loss_readings(batch["logits"], labels).values())


def test_search_space_accepts_the_published_spellings():
    want = search.config_key({"rank": 8, "alpha": 16, "lr": 2e-5, "targets": "qkvo"})
    assert want == (8, 16.0, 2e-5, "qkvo")
    for spelled in ({"r": 8, "lora_alpha": 16.0, "learning_rate": 2e-5, "target_modules": ["q_proj", "k_proj",
                                                                                          "v_proj", "o_proj"]},
                    {"rank": 8, "alpha": 16, "lr": 2e-5, "targets": "QKVO"}):
        assert search.config_key(spelled) == want
    assert search.config_key({"rank": 8, "alpha": 16, "lr": 2e-5, "targets": "QV only"})[3] == "qv"
    assert search.config_key({"rank": 8, "alpha": 16, "lr": 2e-5, "targets": "all_linear"})[3] == "all-linear"
    assert search.config_key({"rank": 8, "alpha": 16, "lr": 2e-5, "targets": "mlp"}) is None
    assert len(search.expected_space()) == 5 * 2 * 3 * 3


def test_the_spec_lists_what_stays_ungraded_and_why():
    chapter24 = assignments.get("chapter24")
    spec = chapter24.spec_text()
    graded = set(chapter24.exercise_ids)
    for exercise, why in UNGRADED:
        assert f"  {exercise}: {why}" in spec
        # a graded exercise is listed only by its ungraded parts, never whole
        assert exercise.split("(")[0] not in graded or "(" in exercise, exercise
    for whole in ("24.15", "24.19", "24.24", "24.25", "24.28"):
        assert any(e == whole for e, _ in UNGRADED), whole
