"""Looking into a model, for the Inside and Push it pages: feature maps and saliency
(``explain``), the not-a-digit check and the map of digits (``novelty``, ``embedding``, both
written by ``derived``), and a drawing pushed around until the model changes its mind
(``robustness``)."""
