"""A photo's renditions are made by a real worker after its upload, through the outbox:
the upload's event, relayed by beat's sweep, asks for them; a lost ask is asked again."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Staff
from tests.integration.test_backbone import cluster_settings
from tests.media import samples
from tests.processes import Cluster, wait_for
from workflow.clock import FrozenClock
from workflow.db.tables import AttachmentRow
from workflow.domain.values import Language
from workflow.services import attachments as media
from workflow.services import releases as svc
from workflow.services.context import ServiceContext


def upload_photo(ctx: ServiceContext, staff: Staff, release_id: int) -> str:
    with tempfile.NamedTemporaryFile(suffix=".jpg") as file:
        file.write(samples.jpeg(2400, 1600))
        file.flush()
        attachment_id, _ = media.upload_attachment(
            ctx,
            staff.author,
            release_id,
            path=Path(file.name),
            filename="회담.jpg",
            words={Language.KO: {"alt": "회담 사진"}},
        )
    return attachment_id


def row(ctx: ServiceContext, attachment_id: str) -> AttachmentRow:
    with ctx.uow() as uow:
        found = uow.session.scalar(select(AttachmentRow).where(AttachmentRow.id == attachment_id))
        assert found is not None
        uow.session.expunge(found)
        return found


@pytest.mark.processes
def test_a_worker_makes_the_renditions_after_the_upload(
    database_url: str, staff: Staff, cluster: Cluster, cluster_env: dict[str, str]
) -> None:
    live = ServiceContext.from_settings(cluster_settings(database_url, cluster_env))
    try:
        release_id = svc.create_release(
            live, staff.author, language="ko", title="회담", body="1. 본문", topics=[staff.health]
        ).release_id
        attachment_id = upload_photo(live, staff, release_id)
        assert row(live, attachment_id).status == "pending"
        cluster.worker()
        cluster.beat()
        wait_for(lambda: row(live, attachment_id).status == "ready", 60, "the renditions")
        made = row(live, attachment_id).renditions
        assert set(made) == {"original", "thumb", "page", "email", "preview"}
        assert (made["preview"]["width"], made["preview"]["height"]) == (1200, 630)
        assert made["thumb"]["width"] == 400
        for rendition in made.values():
            assert live.media.size(rendition["sha256"]) == rendition["size"]
    finally:
        live.engine.dispose()


def test_photos_waiting_too_long_are_found_by_the_sweep_and_made_once(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = svc.create_release(
        ctx, staff.author, language="ko", title="회담", body="1. 본문", topics=[staff.health]
    ).release_id
    attachment_id = upload_photo(ctx, staff, release_id)
    assert media.pending_renditions(ctx, older_than_seconds=60) == []
    clock.advance(seconds=61)
    assert media.pending_renditions(ctx, older_than_seconds=60) == [attachment_id]
    assert media.make_renditions(ctx, attachment_id) is True
    assert media.make_renditions(ctx, attachment_id) is False  # a second ask does nothing
    assert media.pending_renditions(ctx, older_than_seconds=60) == []
