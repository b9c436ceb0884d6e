"""The SQL catalog (SQLAlchemy 2 + Alembic): the system of record for what was ingested."""

from core.catalog.catalog import Catalog, CollectionInfo, Job
from core.catalog.database import Database

__all__ = ["Catalog", "CollectionInfo", "Database", "Job"]
