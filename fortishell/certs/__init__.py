"""Certificate files and requests outside EST: CSRs, PKCS#12, PEM/DER bundles, CRLs.

Pure functions over ``cryptography`` objects (no CMDB, no network, no trace):
``request`` makes key pairs and CSRs for ``local generate rsa|ec`` and matches a
signed certificate to its request; ``files`` reads and writes the files that
travel over TFTP (PEM/DER certificates, bundles, PKCS#12); ``crl`` reads CRLs.
Failures raise :class:`CertFileError` with a short reason.  ``trust`` decides what the
device trusts, for every protocol and import command (its refusals:
:class:`~fortishell.certs.trust.Untrusted`).
"""

from __future__ import annotations


class CertFileError(ValueError):
    """A file, request or list that cannot be used (the text says why)."""
