"""fortishell: an emulator of the FortiOS / FortiProxy configuration shell with working EST certificate enrollment."""

__version__ = "0.1.0"
