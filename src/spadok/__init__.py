"""spadok: 3D backups of cultural heritage under threat."""

__version__ = "0.1.0"
