"""Keep what native libraries print while loading off the terminal.

TensorFlow and LiteRT write start-up lines straight to file descriptor 2 from C++ ("All log
messages before absl::InitializeLog() is called...", oneDNN, CPU features, "Created TensorFlow
Lite XNNPACK delegate"), some before any setting can reach them. They say nothing a student can
act on. What a block wrote is replayed if the block fails, so a broken installation still
explains itself.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def captured():
    """Send what is written to stderr (file descriptor 2) into a temporary file for the duration
    of the block; replay it to stderr if the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            os.write(2, sink.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
