"""Which clips every choice reads: an opt-in record for the split-discipline tests.

Every step that chooses something by scoring candidates calls ``chose_on`` with the clips it reads:
the clips it scores the candidates on and, when it fits them itself, the clips it fits them on. They
are the best epoch (``core.learn.train``), the transfer head's settings and patch count
(``core.learn.transfer``), the verdict's weights (``core.learn.verdict``, ``core.learn.crossval``), the
real-world head (``core.learn.realhead``) and the fine-tuned tagger's epoch and settings
(``core.learn.finetune``). GTZAN clips are named by their id, real recordings by their file in
``data/realworld``.

Nothing is kept unless a test asks for it::

    from core.learn import audit

    with audit.recording() as choices:
        train_main([...])
    assert not {clip for choice in choices for clip in choice.clips} & set(test_list)

Inside ``predicting(fold)`` (``core.learn.crossval``, ``core.learn.realhead``) the choices are made for
predicting that fold of the real recordings, and say so (``Choice.held_out``). Learning side only:
serving never imports it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator


@dataclasses.dataclass(frozen=True)
class Choice:
    """One choice: what was chosen, every clip it read, and the real-world fold it was made for (or None)."""

    step: str
    clips: frozenset[str]
    held_out: int | None = None


_recorded: list[Choice] | None = None
_held_out: int | None = None


def chose_on(step: str, clips: Iterable[str]) -> None:
    """Say that ``step`` made its choice reading ``clips``; kept only inside ``recording()``."""
    if _recorded is not None:
        _recorded.append(Choice(step, frozenset(str(clip) for clip in clips), _held_out))


@contextlib.contextmanager
def recording() -> Iterator[list[Choice]]:
    """Keep every ``Choice`` made inside, in order, in the list it yields."""
    global _recorded
    previous, _recorded = _recorded, []
    try:
        yield _recorded
    finally:
        _recorded = previous


@contextlib.contextmanager
def predicting(fold: int) -> Iterator[None]:
    """The choices made inside are for predicting real-world ``fold``: they must not read it."""
    global _held_out
    previous, _held_out = _held_out, fold
    try:
        yield
    finally:
        _held_out = previous
