"""vipsfront: on-demand image transformation origin for a CDN, built on libvips."""

__version__ = "0.1.0"
