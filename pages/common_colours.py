"""Every colour a chart uses to carry meaning, in one place, chosen to stay apart for the three
common colour-vision deficiencies (deuteranopia, protanopia, tritanopia) and in greyscale on a
washed-out projector: tests/test_colours.py simulates them and measures the distances.

Two-way distinctions (the winning bar and the others, evidence for and against, right and wrong
cells) differ in lightness as well as hue, and never rely on red against green. A helper module of
constants, not a page; no Streamlit."""
from __future__ import annotations

# The Draw and Push pages' probability bars: the winner in Okabe-Ito's vermilion, the other nine
# a light grey that still stands out from the white page.
WINNER_BAR = "#D55E00"
OTHER_BAR = "#AEB6C4"

# Saliency and first-layer kernels (Inside page), drawn over black: orange for "pushed towards the
# digit", blue for "pushed away" (IBM's colour-blind-safe pair). RGB 0-255.
FOR_RGB = (254, 97, 0)
AGAINST_RGB = (100, 143, 255)
# The outline of the filter shown up close (on a dark grid of tiles).
CHOSEN_OUTLINE = "#FFB000"

# Confusion matrix: the diagonal (right) a mid grey with dark numbers; mistakes a sequential
# scale whose lightness falls steadily with the count (ColorBrewer OrRd), so "darker = more"
# holds whatever hues an eye tells apart.
DIAGONAL_GREY = "#9AA3B0"
DIAGONAL_TEXT = "#111827"
ERROR_SCALE = [[0.0, "#ffffff"], [0.02, "#fdc58a"], [0.35, "#fc8d59"], [0.7, "#d7301f"], [1.0, "#7f0000"]]

# Models wherever they are drawn (training curves, the model comparison): Okabe-Ito without its
# black (it hid the markers and the best-epoch line) and pale yellow (unreadable on white on a
# projector); a dark red and a grey-blue take their places. Each line also has a legend entry.
MODEL_PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#882255", "#5D6D7E"]

# The Push page's one colour per digit (lines and map, each labelled with its digit): Paul Tol's
# "muted" nine and a pale grey. Plotly's D3 ten, used before, put an orange and a green that a
# protanope cannot tell apart (CAM02-UCS distance 1.6) side by side.
DIGIT_COLOURS = ["#332288", "#88CCEE", "#44AA99", "#117733", "#999933",
                 "#DDCC77", "#CC6677", "#882255", "#AA4499", "#BBBBBB"]
