"""The mini-project's data: scikit-learn's bundled handwritten digits, as sequences of rows.

Source: ``sklearn.datasets.load_digits`` — the 1,797 8×8 images (16 grey levels, 0–16) of the UCI "Optical
Recognition of Handwritten Digits" test set, shipped inside the scikit-learn wheel
(``sklearn/datasets/data/digits.csv.gz``, 57 KB): nothing is downloaded at run time.

Each image is a sequence of 8 tokens, its rows top to bottom; a token is its row's 8 intensities scaled to
[0, 1]. The two tasks never share an image:

- pretraining (self-supervised, no labels): every image of the digits 0–4, predict each next row;
- fine-tuning: classify the digits 5–9 — shapes the pretrained model has never seen — on a fixed stratified
  split of their images (60 % train, 40 % test, the same for every seed and method).

numpy only; scikit-learn is imported when the data is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

PRETRAIN_DIGITS = (0, 1, 2, 3, 4)
FINETUNE_DIGITS = (5, 6, 7, 8, 9)
TRAIN_FRACTION = 0.6
SPLIT_SEED = 0
ROWS = COLUMNS = 8
LEVELS = 16  # pixel values are 0..16


@dataclass(frozen=True)
class DigitsTask:
    """The arrays of both tasks: ``*_rows`` are float32 [n, 8 rows, 8 columns] in [0, 1]; labels 0–4."""

    pretrain_rows: np.ndarray
    train_rows: np.ndarray
    train_labels: np.ndarray
    test_rows: np.ndarray
    test_labels: np.ndarray
    source: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        """The JSON ``data`` object: where the data comes from and what each task uses."""
        return {
            **self.source,
            "tokens": "an image is 8 tokens, its rows; a token is the row's 8 intensities / 16",
            "pretrain": {"digits": list(PRETRAIN_DIGITS), "images": len(self.pretrain_rows),
                         "objective": "next-row prediction (MSE on the 8 intensities), no labels"},
            "finetune": {"digits": list(FINETUNE_DIGITS), "classes": len(FINETUNE_DIGITS),
                         "label": "digit - 5", "train": len(self.train_rows), "test": len(self.test_rows),
                         "split": f"stratified {TRAIN_FRACTION:.0%} train / {1 - TRAIN_FRACTION:.0%} test, "
                                  f"numpy seed {SPLIT_SEED}, fixed across run seeds"},
        }


def split_indices(labels: np.ndarray, *, fraction: float = TRAIN_FRACTION, seed: int = SPLIT_SEED
                  ) -> tuple[np.ndarray, np.ndarray]:
    """A stratified split: per class, a seeded shuffle and the first ``fraction`` to train (sorted indices).

        >>> train, test = split_indices(np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]))
        >>> len(train), len(test), sorted(set(train) | set(test)) == list(range(10))
        (6, 4, True)
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        rng.shuffle(idx)
        cut = round(fraction * len(idx))
        train.append(idx[:cut])
        test.append(idx[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def build_task(images: np.ndarray, labels: np.ndarray, source: dict[str, Any]) -> DigitsTask:
    """Both tasks from raw 8×8 images with values 0–16 and their digit labels.

        >>> rng = np.random.default_rng(1)
        >>> task = build_task(rng.integers(0, 17, (40, 8, 8)), np.arange(40) % 10, {})
        >>> task.pretrain_rows.shape, task.train_rows.shape, task.test_rows.shape, np.unique(task.test_labels).tolist()
        ((20, 8, 8), (10, 8, 8), (10, 8, 8), [0, 1, 2, 3, 4])
    """
    rows = (np.asarray(images, dtype=np.float32) / LEVELS).reshape(-1, ROWS, COLUMNS)
    labels = np.asarray(labels)
    pre = np.isin(labels, PRETRAIN_DIGITS)
    fine = np.flatnonzero(np.isin(labels, FINETUNE_DIGITS))
    train, test = split_indices(labels[fine])
    shifted = labels[fine] - FINETUNE_DIGITS[0]
    return DigitsTask(rows[pre], rows[fine][train], shifted[train].astype(np.int64),
                      rows[fine][test], shifted[test].astype(np.int64), source)


def load_task() -> DigitsTask:
    """The task from scikit-learn's bundled copy of the digits (no network)."""
    import sklearn
    from sklearn.datasets import load_digits

    bunch = load_digits()
    source = {"package": "scikit-learn", "version": sklearn.__version__, "loader": "sklearn.datasets.load_digits",
              "dataset": "UCI Optical Recognition of Handwritten Digits (test set), bundled in the wheel",
              "images": int(len(bunch.images)), "shape": [ROWS, COLUMNS], "values": f"0–{LEVELS}"}
    return build_task(bunch.images, bunch.target, source)
