"""Persistence that loses nothing (``--state-file``), and fixtures reloaded on change (``--watch``).

Files of ``--state-file FILE``:

- ``FILE``: a snapshot, one JSON document: the seed, what new namespaces start from, and every
  namespace's state (the fixtures format) with what a reset returns it to;
- ``FILE.log``: the commands since that snapshot, one per line (``records.py``).

Every write answered below 400 is a command, appended and made durable before its reply starts
(``log.py``: group commit, ``--fsync always|never``); startup loads the snapshot and replays the
commands through the same plans, on the recorded principal, clock readings and id counters, so
the state comes back byte for byte. Once the log is larger than ``--compact-bytes`` and than the
snapshot, a new snapshot is written and the log emptied.
"""

from .plugin import Persistence
from .tape import TapeClock

__all__ = ["Persistence", "TapeClock"]
