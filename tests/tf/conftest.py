"""tests/tf runs in its own pytest process: TensorFlow must never share one with torch."""

import sys

assert "torch" not in sys.modules, "run tests/tf in a separate pytest process (see noxfile.py)"
