"""The few exceptions rag raises on purpose. The CLI turns each into one line and exit 1.

"No answer found" is not an error: it is an ``Answer`` with ``refused=True``.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: something the user can fix, with a message that says what."""


class InputError(RagError):
    """A file, record or question that cannot be used as given."""


class IndexFormatError(RagError):
    """An index directory that is missing, damaged, or of another format."""


class EncoderError(RagError):
    """An encoder that cannot be loaded, or that differs from the index's."""


class StoreError(RagError):
    """A vector database (Milvus) that cannot be reached, or whose collection does not
    fit this index (another encoder or dimension): the message names the URI or
    collection. Nothing stored is dropped."""


class IndexBusyError(RagError):
    """Another process holds the index's build lock."""


class ModelError(RagError):
    """A learned model's weights file that is corrupt, of another format or fitted on
    another base model: the message says how to retrain it."""


class ClusterError(RagError):
    """A Ray cluster that cannot be reached or joined (``--ray ADDRESS``), or Ray not
    installed: the message names the address or says what to install. Nothing stored
    is changed."""
