"""Junheng (均衡): the command line and settings that tie the platform's folders together."""

__version__ = "0.1.0"
