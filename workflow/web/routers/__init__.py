"""The web interface's pages, one module per part of the site."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    """Every page router, in the order the app includes them."""
    from workflow.web.routers import account, admin, distribution, public, subscriptions

    return [account.router, public.router, subscriptions.router, admin.router, distribution.router]
