"""The full-text search engine over output and session metadata."""
