"""The key folder that signs prodgen's C2PA manifests: a local CA and its signing leaf, or the shop's own.

A key folder holds

- ``chain.pem``: the signing certificate first, then the certificates that issued it;
- ``signer.key``: the signing certificate's private key (PEM, unencrypted, mode 0600);
- ``ca.pem`` and ``ca.key`` (0600): the local certificate authority, only when prodgen made the folder.

``ensure_keys(folder)`` creates a local CA (EC P-256, self-signed, CA=true, keyCertSign) and a signing
leaf issued by it (EC P-256, digitalSignature, extended key usage emailProtection) on first use and
loads them afterwards; a leaf that has expired is issued again by the local CA. c2pa-python 0.38 signs
with such a leaf offline, refuses a self-signed leaf ("the certificate is invalid") and refuses a leaf
whose extended key usage is serverAuth, codeSigning or documentSigning (measured). A shop that has its
own certificate puts its ``chain.pem`` and ``signer.key`` in the folder (or calls ``load_keys``).

The folder used by the command line: ``$PRODGEN_SIGNING_DIR`` when set, else
``$XDG_CONFIG_HOME/prodgen/signing`` (``~/.config/prodgen/signing``).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_bytes
from ..errors import UserError

CHAIN = "chain.pem"
KEY = "signer.key"
CA_CERT = "ca.pem"
CA_KEY = "ca.key"
ENV = "PRODGEN_SIGNING_DIR"
CA_YEARS = 20
LEAF_YEARS = 10  # no timestamp authority offline: a manifest verifies while its leaf is valid


@dataclass(frozen=True)
class SigningKeys:
    """A signing certificate chain (leaf first) and the leaf's private key, both PEM."""

    chain_pem: bytes
    key_pem: bytes
    alg: str  # the C2PA signing algorithm of the key: es256, es384, es512, ed25519 or ps256
    folder: Path | None = None
    anchor_pem: bytes | None = None  # the root that verifies the chain (the local CA), when known

    @property
    def signer_name(self) -> str:
        """The leaf's common name (or its whole subject when it has none)."""
        from cryptography.x509.oid import NameOID

        leaf = _certs(self.chain_pem, "the signing chain")[0]
        cn = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(cn[0].value) if cn else leaf.subject.rfc4514_string()


def default_folder() -> Path:
    """``$PRODGEN_SIGNING_DIR``, else ``$XDG_CONFIG_HOME/prodgen/signing`` (``~/.config/prodgen/signing``)."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "prodgen" / "signing"


def ensure_keys(folder: str | os.PathLike | None = None) -> SigningKeys:
    """The keys in ``folder`` (default: ``default_folder()``), created on first use; see the module docstring."""
    folder = Path(folder) if folder is not None else default_folder()
    if folder.exists() and not folder.is_dir():
        raise UserError(f"signing key folder {folder} is a file; point {ENV} at a folder (it is created if needed).")
    with _locked(folder):
        have = [(folder / n).exists() for n in (CHAIN, KEY)]
        if all(have):
            renewable = (folder / CA_KEY).exists() and (folder / CA_CERT).exists()
            keys = load_keys(folder / CHAIN, folder / KEY, folder, allow_expired=renewable)
            return _issue_leaf(folder) if _expires_soon(keys) else keys
        if any(have):
            present, missing = (CHAIN, KEY) if have[0] else (KEY, CHAIN)
            raise UserError(f"signing key folder {folder} has {present} but no {missing}; put the matching {missing} "
                            f"back, or remove {present} to let prodgen create a new local signing key.")
        if (folder / CA_KEY).exists() and (folder / CA_CERT).exists():
            return _issue_leaf(folder)
        _create_ca(folder)
        return _issue_leaf(folder)


def load_keys(chain: str | os.PathLike, key: str | os.PathLike, folder: Path | None = None,
              allow_expired: bool = False) -> SigningKeys:
    """The shop's own (or a folder's) certificate chain (leaf first) and the leaf's private key, checked."""
    chain_pem, key_pem = _read(Path(chain), "certificate chain"), _read(Path(key), "private key")
    certs = _certs(chain_pem, str(chain))
    pkey = _private_key(key_pem, str(key))
    leaf = certs[0]
    if _public_bytes(pkey.public_key()) != _public_bytes(leaf.public_key()):
        raise UserError(f"{key} is not the private key of the first certificate in {chain}; give the key that belongs "
                        "to the signing certificate (the chain starts with the signing certificate).")
    if _self_signed(leaf):
        raise UserError(f"{chain} starts with a self-signed certificate; C2PA refuses to sign with one. Use a signing "
                        "certificate issued by a CA (your shop's, or let prodgen make a local one: an empty key folder).")
    if not allow_expired and _expires_soon_cert(leaf):
        raise UserError(f"the signing certificate in {chain} is valid until {leaf.not_valid_after_utc:%Y-%m-%d}; "
                        "renew it with your CA and replace the chain and key (a local key folder renews itself).")
    folder = Path(folder) if folder is not None else None
    anchor = None
    if folder is not None and (folder / CA_CERT).exists():
        anchor = _read(folder / CA_CERT, "CA certificate")
    elif len(certs) > 1 and _self_signed(certs[-1]):
        anchor = _pem(certs[-1])
    return SigningKeys(chain_pem, key_pem, _alg(pkey, str(key)), folder, anchor)


def anchor_of(folder: str | os.PathLike | None = None) -> bytes | None:
    """The trust anchor of an existing key folder (its local CA or the chain's root), without creating anything."""
    folder = Path(folder) if folder is not None else default_folder()
    with contextlib.suppress(OSError):
        if (folder / CA_CERT).is_file():
            return (folder / CA_CERT).read_bytes()
        if (folder / CHAIN).is_file():
            certs = _certs((folder / CHAIN).read_bytes(), str(folder / CHAIN))
            if len(certs) > 1 and _self_signed(certs[-1]):
                return _pem(certs[-1])
    return None


# -- creating ----------------------------------------------------------------------------------------------------
def _create_ca(folder: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"prodgen local CA {secrets.token_hex(4)}")  # tells two folders' CAs apart; no host name in files
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    write_bytes(folder / CA_KEY, _key_pem(key), private=True)
    write_bytes(folder / CA_CERT, _pem(cert))


def _issue_leaf(folder: Path) -> SigningKeys:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    ca_pem = _read(folder / CA_CERT, "CA certificate")
    ca = _certs(ca_pem, str(folder / CA_CERT))[0]
    ca_key = _private_key(_read(folder / CA_KEY, "CA key"), str(folder / CA_KEY))
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(_name("prodgen signer")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(min(now + datetime.timedelta(days=365 * LEAF_YEARS), ca.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    write_bytes(folder / KEY, _key_pem(key), private=True)
    write_bytes(folder / CHAIN, _pem(cert) + ca_pem)
    return load_keys(folder / CHAIN, folder / KEY, folder)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Only one process creates a folder's keys (two workers starting at once would write two different keys)."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise UserError(f"cannot use the signing key folder {folder} ({e.strerror}); make it writable or point "
                        f"{ENV} at a folder prodgen may write.") from e
    try:
        with contextlib.suppress(ImportError):
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# -- reading and checking ----------------------------------------------------------------------------------------
def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read the signing {what} {path} ({e.strerror}); fix its permissions or point "
                        f"{ENV} at another key folder.") from e


def _certs(pem: bytes, where: str) -> list:
    from cryptography import x509

    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as e:
        raise UserError(f"{where} holds no readable PEM certificate ({e}); give the signing certificate first, then "
                        "the certificates that issued it, each as -----BEGIN CERTIFICATE-----.") from e
    return certs


def _private_key(pem: bytes, where: str):
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        return load_pem_private_key(pem, password=None)
    except TypeError as e:
        raise UserError(f"{where} is encrypted; prodgen needs the signing key without a passphrase (keep the file "
                        "0600), e.g. openssl pkey -in KEY -out signer.key.") from e
    except (ValueError, UnsupportedAlgorithm) as e:
        raise UserError(f"{where} is not a readable PEM private key ({e}); give the signing certificate's key as "
                        "-----BEGIN PRIVATE KEY-----.") from e


def _alg(key, where: str) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}.get(key.curve.name)
        if alg:
            return alg
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
        return "ps256"
    raise UserError(f"{where}: C2PA signs with EC P-256/P-384/P-521, Ed25519 or RSA (2048 bits or more) keys; "
                    "issue the signing certificate for such a key.")


def _public_bytes(pub) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _self_signed(cert) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # noqa: BLE001  (ValueError, InvalidSignature, TypeError: not signed by itself)
        return False
    return True


def _expires_soon(keys: SigningKeys) -> bool:
    return _expires_soon_cert(_certs(keys.chain_pem, "chain")[0])


def _expires_soon_cert(cert) -> bool:
    return cert.not_valid_after_utc <= _now() + datetime.timedelta(days=1)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _name(cn: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "prodgen")])


def _key_usage(cert_sign: bool):
    from cryptography import x509

    return x509.KeyUsage(digital_signature=not cert_sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
                         encipher_only=False, decipher_only=False)


def _pem(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


__all__ = ["ENV", "SigningKeys", "anchor_of", "default_folder", "ensure_keys", "load_keys"]
