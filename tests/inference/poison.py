"""A poison image for the fault tests: loaded into inference workers (it is added to the
forkserver's preload by the test's own server process), it makes a worker that decodes an
image carrying MARKER die on the spot, as a crash in a decoder would. Never imported by
the test process itself."""

from __future__ import annotations

import os
from typing import Any

from paralab.inference import images, worker

MARKER = b"paralab\x00poison"  # a PNG tEXt chunk: keyword "paralab", text "poison"


def decode(data: bytes, *args: Any, **kwargs: Any) -> images.Decoded:
    if MARKER in data:
        os._exit(70)
    return images.decode(data, *args, **kwargs)


vars(worker)["decode"] = decode  # what the worker calls for every image
