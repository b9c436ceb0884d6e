"""Imported once, by the fork server of the single-node ingest pool (``ingest.executor``): the
parsers' libraries load there (unstructured alone is about 350 MB and seconds), and every worker
forked from it starts with them, sharing their pages with its siblings instead of importing its
own copy, and a worker that replaces a killed one is ready at once."""

from __future__ import annotations

import gc
import os

# Before anything imports torch or OpenMP: a worker parses with one thread (the API's model has the rest).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from ingest.pipeline import warm_up

warm_up()

# Out of the collector's reach: a forked worker's collections would otherwise write to (and so
# copy) every page of these objects.
gc.freeze()
