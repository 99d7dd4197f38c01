"""The saved-model format: a payload of plain data, written atomically.

A saved file is a ``torch.save`` zip archive of one dictionary:

==================  =============================================================
``format``          ``"rince_sklearn.RobustContrastiveEmbedder"``
``format_version``  ``2`` (files of version 1 are read too)
``library_version`` the ``rince_sklearn`` version that wrote it
``params``          the constructor parameters, as JSON
``fitted``          the fitted attributes that are not rebuilt, as JSON
``history``         the training history, as JSON
``state_dict``      the module's tensors
``augmentation_state`` what a fitted augmentation learnt (tensors; may be empty)
==================  =============================================================

This module is a codec: it turns a :class:`Payload` into a file and back, and
knows nothing about the estimator, which validates what it reads and restores
itself (``RobustContrastiveEmbedder._from_payload``).

Reading is safe by construction:

* the archive is inspected before it is unpickled: it must be a zip file of
  stored (uncompressed) entries whose sizes add up to the file's, so no entry
  can inflate in memory;
* it is unpickled with ``torch.load(weights_only=True)``, which builds tensors
  and plain containers only;
* JSON values decode to plain data (numbers, strings, lists, tuples, dicts,
  numeric or string arrays). Classes are decoded only where a class is expected
  (the encoder, the optimiser, the loss, the augmentation), and only by looking
  their name up in an allow-list (:class:`ClassAllowList`: the package's own
  classes, torch's optimisers and the classes that the caller trusts). Nothing
  is imported and no function is ever called: the only things constructed
  are allow-listed augmentation classes, from plain parameters.

Writing is atomic: the file is written to a temporary file in the destination's
folder, flushed and synced, then renamed over the destination, so a failed or
interrupted save leaves the previous file as it was; a symbolic link at the
destination is replaced, never followed.
"""

from __future__ import annotations

from .architecture import check_architecture
from .checks import (
    check_int,
    check_int_tuple,
    check_positive,
    check_str,
    check_str_array,
    check_str_dict,
)
from .codec import (
    ClassAllowList,
    decode_augmentation,
    decode_class,
    decode_plain,
    encode_augmentation,
    encode_class,
    encode_plain,
)
from .format import (
    FORMAT,
    FORMAT_VERSION,
    MAX_FILE_BYTES,
    READABLE_VERSIONS,
    FileFormatError,
    Payload,
)
from .reading import read_payload
from .writing import write_payload

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_FILE_BYTES",
    "READABLE_VERSIONS",
    "ClassAllowList",
    "FileFormatError",
    "Payload",
    "check_architecture",
    "check_int",
    "check_int_tuple",
    "check_positive",
    "check_str",
    "check_str_array",
    "check_str_dict",
    "decode_augmentation",
    "decode_class",
    "decode_plain",
    "encode_augmentation",
    "encode_class",
    "encode_plain",
    "read_payload",
    "write_payload",
]
