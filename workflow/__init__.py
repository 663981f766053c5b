"""The workflow package: spec schema, window resolution, spec registry, the step-hook
contract and the engine that walks runs (``engine.py``, ``assign.py``, ``authority.py``).

It imports only ``models`` and third-party libraries, never ``bot`` or ``handlers``:
the runtime and the handlers depend on it, not the other way round. What the engine
tells people goes through ``notify.Notifier``, which the runtime implements.
"""
