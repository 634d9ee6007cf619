"""Import this first in a command-line tool: it imports TensorFlow (through Keras) with its C++
start-up lines kept off the terminal (see ``model.serving.native_stderr``).

Later C++ log lines (graph and converter chatter during training and the LiteRT export) go by
``TF_CPP_MIN_LOG_LEVEL``, which this sets to 3 unless it is set already:
``TF_CPP_MIN_LOG_LEVEL=0`` shows everything again.
"""
from __future__ import annotations

import os

from model.serving import native_stderr

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
with native_stderr.captured():
    import keras  # noqa: F401 - loads TensorFlow's native libraries
