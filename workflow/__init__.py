"""The workflow package: spec schema, window resolution, spec registry and the step-hook contract.

It imports only ``models`` and third-party libraries, never ``bot`` or ``handlers``:
the runtime and the handlers depend on it, not the other way round.
"""
