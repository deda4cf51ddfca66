"""The lab: scenarios as data, instrumented primitives, and the engine that runs them.

Nothing here knows about HTTP: the CLI (`paralab run T4.2`) and the server both drive it.
"""
