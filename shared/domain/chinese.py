"""Traditional Chinese → simplified, for matching only: OpenCC's own dictionaries (its `t2s` conversion).

Keywords, safety words and addresses are compared after this conversion on both sides, so a report written
in traditional characters (路燈不亮) is classified as its simplified form (路灯不亮) would be. The original
text is never replaced: only the matching keys are converted.
"""

from __future__ import annotations

from functools import lru_cache

import opencc


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    """One converter per process: loading OpenCC's dictionaries is the expensive part."""
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """The text with traditional characters and phrases in their simplified form; ASCII is returned as is."""
    if text.isascii():
        return text
    converted: str = _converter().convert(text)
    return converted
