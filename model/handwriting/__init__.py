"""Pen handwriting: reading digits as students draw them, not only as MNIST's writers did.

``sources`` (public pen-stroke digits, checksummed), ``canvas`` (strokes drawn the way the Draw
page's canvas draws them), ``styles`` (named ways of writing each digit), ``redraw`` (MNIST's
digits drawn again with a pen), ``trainset`` (the drawings a network for pens trains on),
``calibrate`` (the not-a-digit threshold set on drawn digits), ``pentrain`` (the training
run), ``blend`` (a shipped network and its pen-trained successor, mixed) and ``fetch`` (the pen
data from its public mirrors). The benchmark itself is ``bench/penbench.py``.
"""
