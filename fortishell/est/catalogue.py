"""The EST trace catalogue: every bracketed line the EST engine can print.

Data only.  Each :class:`~fortishell.trace.TracePoint` carries the FortiOS
source line number and function name exactly as the admin guide's examples
show them (``[1728] est_curl_req: URL: ...``).  Points the guide elides
(``...``) or never shows (failure paths, retries, SRP) are marked
"not in the guide": their numbers are chosen inside the range of the
function they belong to, in the same style.

Multi-line templates print their continuation lines without a bracket prefix,
as FortiOS does for its dumps; tabs are real tabs (the guide's 8-column
indentation of those blocks).
"""

from __future__ import annotations

from fortishell.trace import TracePoint as P

APP = "est"

# ------------------------------------------------------------ authentication
SET_AUTH = P(1962, "__est_curl_set_auth", "trace")
CLIENT_CERT_KEY_USAGE = P(
    2011, "__est_curl_set_auth",
    "Warning: cert {name} may not have the correct key usage for TLS client authentication",
)
CLIENT_CERT_USED = P(2014, "__est_curl_set_auth", "Will use cert {name} to prove my identity")
SRP_USERNAME_SET = P(2031, "__est_curl_set_auth", "TLS-SRP username is set")  # not in the guide
SRP_PASSWORD_SET = P(2035, "__est_curl_set_auth", "TLS-SRP password is set")  # not in the guide
HTTP_USERNAME_SET = P(2046, "__est_curl_set_auth", "HTTP Authentication username is set")
HTTP_PASSWORD_SET = P(2050, "__est_curl_set_auth", "HTTP Authentication password is set")

# ------------------------------------------------------------ curl requests
CURL_URL = P(1728, "est_curl_req", "URL: {url}")
CURL_POST = P(1753, "est_curl_req", "HTTP POST")
CURL_GET = P(1776, "est_curl_req", "HTTP GET")
CURL_RESPONSE = P(1787, "est_curl_req", "Response {status}")
CURL_BUFFER = P(1788, "est_curl_req", "Buffer:{buffer}")
CURL_ERROR = P(1795, "est_curl_req", "Error buf: {error},")
CURL_HTTP_ERROR = P(1803, "est_curl_req", "HTTP error {status}: {reason}")  # not in the guide
CURL_CONTENT_TYPE = P(1811, "est_curl_req", "Unexpected Content-Type: {content_type}")  # not in the guide
HEADER_RECEIVED = P(1651, "curl_header_debug_func", "Header received:{line}")
SSL_GLOBAL_CAS = P(143, "__curl_ssl_ctx_finalizer", "global CAs are loaded.")
SSL_CA_LOADED = P(151, "__curl_ssl_ctx_finalizer", "CA cert {name} is loaded.")  # not in the guide
SSL_EX_DATA = P(165, "__curl_ssl_ctx_finalizer", "SSL_CTX ex data is set.")

# ------------------------------------------------------------ flows
GET_CA_CERTS_STARTED = P(2075, "__est_get_ca_certs", "============STARTED============")
GET_CSR_ATTRS_STARTED = P(2101, "__est_get_csr_attrs", "============STARTED============")
CSR_ATTRS_NONE = P(2118, "__est_get_csr_attrs", "No csrattrs from the server ({status})")  # not in the guide
SIMPLE_ENROLL_STARTED = P(2259, "__est_simple_enroll", "============STARTED============")
SIMPLE_REENROLL_STARTED = P(2274, "__est_simple_reenroll", "============STARTED============")
DATA_TO_BE_POSTED = P(2200, "__est_simple_post", "Data to be posted:\n|||{b64}\n|||\n")
RETRY_AFTER = P(  # not in the guide
    2226, "__est_simple_post", "Request accepted, retry after {seconds} seconds ({attempt}/{limit})",
)
RETRY_GIVE_UP = P(2231, "__est_simple_post", "Still pending after {attempt} retries, giving up")  # not in the guide

DECODE_CSRATTRS = P(1439, "decode_csrattrs_callback", "Decoding csrattrs, resp->len: {length}")
CSRATTRS_OBJECT = P(1474, "decode_csrattrs_callback", "Object: {oid} {name}")
CSRATTRS_ATTRIBUTE = P(1482, "decode_csrattrs_callback", "Attribute: {oid} {name}")  # not in the guide
CSR_POP = P(936, "est_generate_csr", "challengePassword is set to the TLS unique value")  # not in the guide
CSR_FROM_CERT = P(965, "est_generate_csr_from_cert", "Successfully generated CSR for {name}")

# ------------------------------------------------------------ PKCS#7 and storage
SAVE_PKCS7 = P(1191, "save_pkcs7_certs", "Saving pkcs7 response")
PRINT_PKCS7_COUNT = P(505, "est_print_pkcs7", "Certs: ({count} in total)")
PRINT_PKCS7_CERT = P(507, "est_print_pkcs7", "Cert {index}:")
PRINT_X509 = P(427, "est_print_x509", "{text}")
SAVE_RECEIVED_CERTS = P(1220, "save_pkcs7_certs", "Received {count} certs")
SAVE_CERTS_DUMP = P(
    1228, "save_pkcs7_certs",
    "Saving cert(s):\n\tis_global:{is_global}\n\test_url:{url}\n\tsource_ip:{source_ip}"
    "\n\tca_identifier:{ca_identifier}\n",
)
SAVE_RECEIVED_CERT = P(1246, "save_pkcs7_certs", "Received {count} cert(s)")
SAVE_KEY_MISMATCH = P(1253, "save_pkcs7_certs", "The cert does not match the private key")  # not in the guide
SAVE_CHAIN_FAILED = P(1261, "save_pkcs7_certs", "Failed to verify the cert: {reason}")  # not in the guide
SAVE_DONE = P(1276, "save_pkcs7_certs", "The cert is saved!")
CA_IMPORTED = P(1288, "save_pkcs7_certs", "CA certs imported!")
CA_VERIFY_FAILED = P(1296, "save_pkcs7_certs", "Failed to verify CA cert {index}: {reason}")  # not in the guide
CMDB_UPDATED = P(827, "est_cmdb_update_cert", "Cert {name} updated in CMDB")
CLEAR_TMP = P(592, "est_ctx_clear_tmp_data", "trace")

# ------------------------------------------------------------ top level
RECONSTRUCTED = P(1024, "reconstruct_est_ctx", "Reconstruction succeeded")
ENROLL_CA_FAILED = P(2402, "est_simple_enroll", "Failed to get ca certs: {ret}.")
ENROLL_ATTRS_FAILED = P(2405, "est_simple_enroll", "Failed to get csr attrs: {ret}.")  # not in the guide
ENROLL_POST_RET = P(2408, "est_simple_enroll", "POST ret:{ret}")
REENROLL_CLIENT_CERT = P(2453, "est_simple_reenroll", "Try to use {name} as client cert to authenticate")
REENROLL_ATTRS_FAILED = P(2466, "est_simple_reenroll", "Failed to get csr attrs: {ret}.")  # not in the guide
REENROLL_POST_RET = P(2477, "est_simple_reenroll", "POST ret:{ret}")

# The est_ctx dump (no bracket prefix).  Field order as the guide prints it.
EST_CTX_FIELDS: tuple[str, ...] = (
    "is_global", "vfid", "svr_original_url", "svr_hostinfo", "ca_identifier", "http_username",
    "http_password", "clt_cert", "svr_cert", "srp_username", "srp_password", "source_ip", "need_pop",
    "newcert_name", "passwd", "rsa_keysize", "ec_curvename", "subject", "sub_alt_name",
    "svr_cert_x509", "csr_attrs", "csr", "pkey", "header_ptr", "tmp_p10",
)


def est_ctx_dump(values: dict[str, object]) -> str:
    """The ``est_ctx:`` block: first field after a tab, the rest tab-indented."""
    first, *rest = EST_CTX_FIELDS
    lines = [f"est_ctx:\t{first}:{values[first]}"]
    lines += [f"\t{name}:{values[name]}" for name in rest]
    return "\n".join(lines)


# The points above marked "not in the guide" (listed for users in fortishell/ARCHITECTURE.md,
# "Trace points that are not in the guide"; tests/est/test_est_catalogue.py keeps both in step).
NOT_IN_GUIDE: tuple[P, ...] = (
    SRP_USERNAME_SET, SRP_PASSWORD_SET, CURL_HTTP_ERROR, CURL_CONTENT_TYPE, SSL_CA_LOADED, CSR_ATTRS_NONE,
    RETRY_AFTER, RETRY_GIVE_UP, CSRATTRS_ATTRIBUTE, CSR_POP, SAVE_KEY_MISMATCH, SAVE_CHAIN_FAILED,
    CA_VERIFY_FAILED, ENROLL_ATTRS_FAILED, REENROLL_ATTRS_FAILED,
)
