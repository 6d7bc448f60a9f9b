"""Provenance on every image prodgen makes or edits: IPTC digital source type + a signed C2PA manifest.

- ``keys``: the signing key folder (a local CA and its leaf, or the shop's own chain and key);
- ``marks``: XMP (IPTC digital source type) and PNG text written into the file, and read back;
- ``c2pa_sign``: the C2PA manifest (Content Credentials), signed with c2pa-python;
- ``verify``: ``verify_file(path)``, what a file says about itself and whether its manifest checks out;
- ``stamp``: ``stamp(path, kind, info)``, marks + signature: the call every image writer makes.
"""

from .keys import SigningKeys, default_folder, ensure_keys, load_keys
from .stamp import default_keys, stamp, stamp_bytes
from .verify import verify_file

__all__ = ["SigningKeys", "default_folder", "default_keys", "ensure_keys", "load_keys", "stamp", "stamp_bytes",
           "verify_file"]
