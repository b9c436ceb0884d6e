"""The data folder (``SOURCEBOOK_HOME``) holds every team's documents: the catalog with their
text, the vectors with their payloads, the originals. It is private to the service's user.

A process that opens it sets its umask to 077 first, so that everything it and its child
processes create there (SQLite's database, journal and WAL files, Qdrant Edge's segments, the
originals) is 0600 and every folder 0700, whatever umask the operator's shell had. The folder
itself is made 0700 even when an older version created it open: nothing inside is reachable
through it then, including files written before this rule.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077


def open_private(home: Path) -> None:
    """Create (or close up) the data folder as 0700 and make this process create private files."""
    os.umask(PRIVATE_UMASK)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(home.stat().st_mode)
    if mode & 0o077:
        try:
            home.chmod(0o700)
        except PermissionError:
            log.warning(
                "the data folder %s is open to others (%o) and not ours to close: chmod 700 it", home, mode
            )
            return
        log.warning("closed the data folder %s to other users (it was %o, now 700)", home, mode)
