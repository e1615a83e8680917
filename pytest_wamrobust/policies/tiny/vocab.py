"""Word-level tokenizer whose vocabulary comes from the training instructions.

Words never seen in training (rewrites of the language axis, a user's own phrasing)
map to `<unk>` instead of failing: that, and the `<unk>` word dropout in training, is
how a tiny policy meets an instruction it was not trained on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

PAD, UNK = "<pad>", "<unk>"
MAX_TOKENS = 16
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class Vocabulary:
    def __init__(self, tokens: Sequence[str]) -> None:
        if list(tokens[:2]) != [PAD, UNK]:
            raise ValueError("a vocabulary starts with <pad>, <unk>")
        self.tokens = list(tokens)
        self._index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, instructions: Iterable[str]) -> Vocabulary:
        seen = sorted({w for text in instructions for w in words(text)})
        return cls([PAD, UNK, *seen])

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, length: int = MAX_TOKENS) -> np.ndarray:
        """(length,) int64 ids, `<pad>`-filled; longer instructions keep their first words."""
        ids = [self._index.get(w, 1) for w in words(text)][:length]
        return np.array(ids + [0] * (length - len(ids)), dtype=np.int64)
