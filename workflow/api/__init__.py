"""The HTTP API (FastAPI): thin callers of the service functions, under ``/api/v1``."""

from workflow.api.app import create_app

__all__ = ["create_app"]
