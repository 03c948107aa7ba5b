"""The shell served over SSH (``fortishell serve``): server, users file, host key, pager.

Import :mod:`fortishell.ssh.server` for the server itself (it needs asyncssh);
this package's top level stays free of it so the local REPL can use the pager.
"""
