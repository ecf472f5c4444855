"""TrayCheck's domain errors: what the libraries raise on purpose, whoever calls them.

Every error here carries one line that names what is wrong and where (file, key, line,
payload field). The callers translate them: the command line prints the line and exits 2,
the service logs it and shows it on health, the web API answers 4xx/503. None of them is a
command-line type: ``orders``, ``detectors`` and the pipeline raise them as libraries.

    TrayCheckError
    ├── InvalidInput        bad input: a file, argument, payload, config key, menu, model
    │   └── UnknownSku      an order names a SKU the site's menu does not know
    └── StorageError        the data directory cannot be used
        ├── UnusableDatabase    corrupt, foreign or newer-than-this-code database
        └── StorageUnavailable  read-only, full or gone: retry after the operator acts
"""
from __future__ import annotations


class TrayCheckError(Exception):
    """Base of every error raised on purpose; ``str(err)`` is the one line to show."""


class InvalidInput(TrayCheckError):
    """Bad input (file, argument, payload, config, model) with a message that names what and where."""


class UnknownSku(InvalidInput):
    """An order line names a SKU that is not on the site's menu."""


class StorageError(TrayCheckError):
    """The data directory or its database cannot be used as it is."""


class UnusableDatabase(StorageError):
    """The database file is corrupt, not TrayCheck's, or from a newer version."""


class StorageUnavailable(StorageError):
    """The data directory is read-only, full or gone; the operator's action brings it back."""
