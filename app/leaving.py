"""How a long-running command (the desktop app, `notewell serve`) ends its process.

Once its own shutdown is done — server, tunnel, writer and vector store closed, every
write journaled — the process leaves at once instead of tearing the interpreter down.
A thread still inside native code then (onnxruntime or tokenizers loading the model for
a quit that came right after the start) made that teardown abort the process:
"terminate called without an active exception", exit status 134 instead of 0.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn


def leave(code: int) -> NoReturn:
    """Flush what is written and end the process with `code`, skipping interpreter teardown."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
