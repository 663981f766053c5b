"""Chat features: each module exports its own ``router``; ``bot/composition.py``
includes them. Also the declared workflow specs."""
