"""The ACME trace catalogue (``diagnose debug application acme -1``): data only.

FortiOS publishes no ACME debug output (``enrollment-protocols.md``), so every
line here is our choice, written in the style of the EST daemon's lines
(``[line] function: text``) with function names after the steps of RFC 8555.
"""

from __future__ import annotations

from fortishell.trace import TracePoint as P

APP = "acme"

DIRECTORY = P(212, "acme_get_directory", "GET {url}")
DIRECTORY_OK = P(231, "acme_get_directory", "newAccount {new_account}, newOrder {new_order}")
NONCE = P(260, "acme_new_nonce", "HEAD {url}")
HTTP_STATUS = P(318, "acme_http_req", "{method} {url} -> {status}")
HTTP_ERROR = P(325, "acme_http_req", "{method} {url} failed: {error}")
BAD_NONCE = P(341, "acme_http_req", "badNonce, retrying with a fresh nonce ({attempt}/{limit})")
ACCOUNT_REUSE = P(402, "acme_account", "Using account {account_id} ({url})")
ACCOUNT_NEW = P(418, "acme_account", "Registering a new account at {url}")
ACCOUNT_OK = P(437, "acme_account", "Account {url} is {status}")
ORDER_NEW = P(512, "acme_new_order", "Ordering a certificate for {domain}")
ORDER_OK = P(530, "acme_new_order", "Order {url} is {status}")
AUTHZ = P(602, "acme_authz", "Authorization {url} for {domain} is {status}")
CHALLENGE_SERVE = P(618, "acme_http01", "Serving http-01 token {token} on port 80")
NO_INTERFACE = P(622, "acme_http01", "No interface is set in config system acme: nothing listens on port 80")
CHALLENGE_READY = P(631, "acme_http01", "Challenge {url} answered")
CHALLENGE_POLL = P(645, "acme_http01", "Monitoring challenge status for {domain}: {status}")
RETRY_AFTER = P(652, "acme_poll", "Retry-After {seconds}s")
FINALIZE = P(710, "acme_finalize", "Finalizing order with a {bits}-bit RSA CSR")
ORDER_STATUS = P(723, "acme_finalize", "Order status: {status}")
DOWNLOAD = P(760, "acme_download", "Downloading the certificate chain from {url}")
CHAIN = P(781, "acme_download", "Received {count} cert(s), leaf serial {serial}")
SAVED = P(812, "acme_store", "Certificate {name} saved (valid until {not_after})")
FAILED = P(840, "acme_store", "Order for {domain} failed: {reason}")
