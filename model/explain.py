"""Why the network says what it says: the preprocessing step by step, feature maps, saliency,
and how unlike any digit an input is. UI-free; the Inside and Push it pages draw what this
computes."""
from __future__ import annotations
