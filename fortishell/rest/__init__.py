"""The FortiOS REST API over HTTPS: a fourth door onto the devices of ``fortishell serve``."""
