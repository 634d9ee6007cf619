"""Why the network says what it says: the preprocessing step by step, feature maps, saliency,
and how unlike any digit an input is. UI-free; the Inside and Push it pages draw what this
computes."""
from __future__ import annotations


def novelty(arch: str, images):
    """How unlike any digit each of ``images`` (N, 28, 28) is, as an (N,) array: higher = less
    like a digit; flagged above the card's ``novelty_threshold`` (see model/novelty.py)."""
    from model.novelty import novelty_scores

    return novelty_scores(arch, images)
