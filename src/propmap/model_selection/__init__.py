"""Splits: scikit-learn's ``train_test_split`` with train and test sets that may
overlap. Same names as ``skmatter.model_selection``."""

from propmap.model_selection._split import train_test_split

__all__ = ["train_test_split"]
