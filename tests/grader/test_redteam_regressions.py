"""Red-team findings of round three, kept as regressions: each test failed while its problem was there (the name says what must hold)."""

from __future__ import annotations

import os
import shutil
import time
from fractions import Fraction
from pathlib import Path

import pytest

from grader.analytic import grade_answers
from grader.code.runner import build_checks

ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------- 9.mini: a described model crashes the grader

_BERT = {"model_type": "bert", "architectures": ["BertForSequenceClassification"], "hidden_size": "8",
         "num_attention_heads": "2", "num_hidden_layers": "2", "vocab_size": "10", "intermediate_size": "16",
         "max_position_embeddings": "8", "type_vocab_size": "2"}
_QWEN_MOE = {"model_type": "qwen3_moe", "hidden_size": "8", "num_attention_heads": "2", "num_hidden_layers": "2",
             "vocab_size": "10", "intermediate_size": "16", "max_position_embeddings": "8", "num_experts": "2",
             "moe_intermediate_size": "4", "num_experts_per_tok": "1"}


@pytest.mark.parametrize("model", [
    {**_BERT, "hidden_size": "9" * 5000},          # int("9"*5000): ValueError (int_max_str_digits), not an InputError
    {**_BERT, "num_labels": "many"},               # encoder.num_labels: int("many") → ValueError
    {**_BERT, "num_labels": ["1"]},                # int([1]) → TypeError
    {**_QWEN_MOE, "mlp_only_layers": "3"},         # `layer not in 3` → TypeError
], ids=["5000-digit-int", "num_labels-text", "num_labels-list", "mlp_only_layers-int"])
def test_9mini_described_model_never_raises_in_the_grader(model):
    """A student's answer file is data: a description that cannot be counted is 0 with the reason, for that
    submission only. These raise out of grade_answers (only PeftcalcError is caught in _grade_described), so
    grade_file, a whole grade_class batch and `peftcalc grade --gradescope` (no results.json) die."""
    res = grade_answers("stage9", {"9.mini": {"model": model, "targets": "query,value"}})
    assert all(p.score == 0 for p in res.parts if p.id.startswith("9.mini"))


def test_9mini_crash_kills_the_whole_batch(tmp_path):
    from grader.batch import grade_class

    subs = []
    bad = tmp_path / "mallory.yaml"
    bad.write_text("9.mini:\n  model:\n    model_type: bert\n    hidden_size: '" + "9" * 5000 + "'\n  targets: query\n")
    good = tmp_path / "alice.yaml"
    good.write_text("9.1a: 1\n")
    subs = [("mallory", bad), ("alice", good)]
    results = grade_class(subs, "stage9")
    assert {r.submission for r in results} == {"mallory", "alice"}


# ---------------------------------------------------------------- judges that give points for nothing

def _check(assignment: str, cid: str, seed: int = 7):
    return next(c for c in build_checks(assignment, seed) if c.id == cid)


def test_24_14_schedule_an_empty_record_scores_nothing():
    """judge_schedule zips the values with its two sweeps: a record with no values (written on the channel, or
    from a patched ops.run_all — the submission owns the fork that runs the checks) finds no mistake: FULL."""
    share, msg = _check("chapter24", "24.14.schedule").grade([], None)
    assert share == 0, msg


def test_9_12_qlora_zero_dequantize_scores_nothing():
    """9.12.qlora checks y == x @ deq.T with deq the submission's own: dequantize → zeros, forward → zeros is 2/2
    (9.6.6.forward refuses to judge forward unless the round trip is valid; 9.12 does not)."""
    import numpy as np
    from grader.code.checks import arr

    check = _check("stage9", "9.12.qlora")
    share, msg = check.judge([arr(np.zeros((12, 10))), arr(np.zeros((3, 12)))], None)
    assert share == 0, msg


def test_9_6_6_quantize_all_zeros_earns_at_most_a_quarter():
    """codes 0 and dequantized 0 everywhere: 3/4 of 4 points (codes in range; one level ≤ 16; 0 is each weight's
    nearest level among the levels present) — only the error bound catches it."""
    import numpy as np
    from grader.code.checks import arr

    check = _check("section9.6", "9.6.6.quantize")
    w_shape = None
    for op in check.ops:
        if op.get("func") == "quantize_4bit_blockwise":
            w_shape = op["args"][0]["shape"]
    share, msg = check.judge([arr(np.zeros(w_shape)), arr(np.zeros(w_shape))], None)
    assert share <= Fraction(1, 4), msg


def test_9_11_combine_noop_scores_nothing():
    """combine_adapters that does nothing (or returns anything) is 1/1: the judge looks at nothing."""
    share, msg = _check("stage9", "9.11.combine").grade([], None)
    assert share == 0, msg


def test_9_9_identity_forward_scores_nothing():
    """9.9's only check of forward is 'merge keeps the output': forward(x) = x with an unused zero (d, r) array
    and a no-op merge_lora is 2/2 (see attacks/self_consistent_stubs.py.txt)."""
    from grader.code.checks import arr

    check = _check("stage9", "9.9.merge")
    x = next(op["args"][0] for op in check.ops if op.get("func") == "forward")
    share, msg = check.grade([x, x, 1], None)
    assert share == 0, msg


# ---------------------------------------------------------------- 'user' isolation: a daemon outlives its submission

_DAEMON = '''
import os, time, glob
WORK = os.path.dirname(os.getcwd())
MINE = os.getcwd()
STOLEN = {stolen!r}
if os.fork() == 0:
    os.setsid()          # out of the fork's process group and the init's session: nothing in 'user' mode kills it
    if os.fork() == 0:
        me, uid = os.getpid(), os.getuid()
        end = time.time() + 40
        stole = False
        while time.time() < end:
            for job in glob.glob(WORK + "/job-*"):
                path = job + "/submission.py"
                if job != MINE and not stole and os.path.exists(path):
                    try:
                        data = open(path, "rb").read()
                        if data:
                            open(STOLEN, "wb").write(data)   # the host's /tmp: world-writable, never wiped
                            stole = True
                    except OSError:
                        pass
            if stole:    # then kill every fork of the next submission (children of the init, same uid)
                for pid in os.listdir("/proc"):
                    if not pid.isdigit() or int(pid) == me:
                        continue
                    try:
                        st = dict(l.split(":", 1) for l in open(f"/proc/{{pid}}/status").read().splitlines() if ":" in l)
                        if int(st["Uid"].split()[0]) != uid:
                            continue
                        pst = dict(l.split(":", 1) for l in open(f"/proc/{{int(st['PPid'])}}/status").read().splitlines() if ":" in l)
                        if int(pst["Uid"].split()[0]) == uid:
                            os.kill(int(pid), 9)
                    except (OSError, KeyError, ValueError):
                        pass
            time.sleep(0.002)
        os._exit(0)
    os._exit(0)
'''


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="the 'user' jail needs root and setpriv")
def test_user_jail_a_daemon_cannot_reach_the_next_submission(tmp_path):
    """In 'user' isolation (Gradescope-like containers; `peftcalc grade subs/` there reuses one jail per --jobs
    slot) the init's clean-up kills only the forks' process groups: a setsid() daemon survives the submission,
    runs under the same jail uid as the next one, reads its source from the work folder (its job folder is
    job-<token> under the same uid-owned folder) and kills its forks."""
    from grader.code.runner import grade_source
    from grader.sandbox import Jail

    stolen = Path(f"/tmp/peftcalc-redteam-stolen-{os.getpid()}")
    stolen.unlink(missing_ok=True)
    secret = f"classmate-secret-{os.urandom(6).hex()}"
    reference = (ROOT / "grader" / "reference" / "stage9.py").read_text() + f"\n# {secret}\n"
    try:
        with Jail(isolation="user") as jail:
            grade_source(_DAEMON.format(stolen=str(stolen)).encode(), "stage9", seed=3, jail=jail)
            time.sleep(0.5)
            victim = grade_source(reference.encode(), "stage9", seed=3, jail=jail)
        leaked = stolen.exists() and secret in stolen.read_text(errors="replace")
        assert not leaked, "the daemon copied the next submission's source to the host's /tmp"
        assert victim.score == victim.max_score, "the daemon sabotaged the next submission"
    finally:
        stolen.unlink(missing_ok=True)
