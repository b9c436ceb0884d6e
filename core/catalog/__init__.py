"""The SQL catalog (SQLAlchemy 2 + Alembic): the system of record for what was ingested."""

from core.catalog.catalog import Catalog, CollectionInfo
from core.catalog.database import Database
from core.catalog.jobs import Job, JobProgress, Jobs

__all__ = ["Catalog", "CollectionInfo", "Database", "Job", "JobProgress", "Jobs"]
