"""Registry files: the documented on-disk format of the registry and matter catalog (docs/registry-format.md).

Pure file I/O, no database: `load_directory` parses and validates a directory and returns a complete
`LoadedRegistry` or raises `RegistryFileError` listing every problem; `generate` writes a plausible
sample district in the same format.
"""

from shared.registry_files.load import LoadedRegistry, check_directory, load_directory
from shared.registry_files.validate import RegistryFileError, RegistryProblem

__all__ = ["LoadedRegistry", "RegistryFileError", "RegistryProblem", "check_directory", "load_directory"]
