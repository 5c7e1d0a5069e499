"""The registry and matter catalog in PostgreSQL: versioned imports and an atomically switched active version."""

from shared.registry_store.store import (
    ImportResult,
    VersionInfo,
    activate,
    active_version,
    import_directory,
    list_versions,
    load_active,
)

__all__ = [
    "ImportResult",
    "VersionInfo",
    "activate",
    "active_version",
    "import_directory",
    "list_versions",
    "load_active",
]
