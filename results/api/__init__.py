"""The results part of the REST API: read endpoints (``views``), their records and filters.

``submit`` (the keying write endpoint) lives here too but is not part of the read API.
"""
