"""The web interface's pages, one module per part of the site."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    """Every page router, in the order the app includes them."""
    from workflow.web.routers import (
        account,
        admin,
        distribution,
        files,
        office,
        office_attachments,
        office_editor,
        office_preview,
        office_translation,
        preview,
        public,
        release_links,
        single_sign_on,
        subscriptions,
        two_factor,
    )

    # The editor's /office/releases/new must come before the release page's
    # /office/releases/{release_id}.
    return [
        account.router,
        single_sign_on.router,
        two_factor.router,
        public.router,
        files.router,
        release_links.router,
        subscriptions.router,
        admin.router,
        distribution.router,
        office_editor.router,
        office_translation.router,
        office_attachments.router,
        office_preview.router,
        preview.router,
        office.router,
    ]
