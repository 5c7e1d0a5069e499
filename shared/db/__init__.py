"""PostgreSQL: the asyncpg pool factory and the schema migrations."""

from shared.db.migrate import migrate
from shared.db.pool import check_database, close_pool, create_pool, describe_dsn

__all__ = ["check_database", "close_pool", "create_pool", "describe_dsn", "migrate"]
