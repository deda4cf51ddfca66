"""Inference: shipped models served from a process pool. Knows nothing about HTTP.

The web process imports only ``registry``, ``service``, ``batcher`` and ``schemas``;
TensorFlow, LiteRT and image decoding live in ``worker`` (pool processes) alone.
"""
