"""The ministry's real press releases, carried through the workflow unchanged."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Staff
from tests.fixture_releases import samples
from workflow.domain.values import Language
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries.staff_release import get_release


def test_sample_releases_keep_every_paragraph_and_sub_point_in_order(
    ctx: ServiceContext, staff: Staff, fixtures_dir: Path
) -> None:
    found = samples(fixtures_dir)
    assert len(found) == 2
    for sample in found:
        assert len(sample.paragraphs) >= 4
        release_id = svc.create_release(
            ctx,
            staff.author,
            language="en",
            title=sample.title,
            body=sample.markdown,
            topics=[staff.health],
        ).release_id
        svc.submit_release(ctx, staff.author, release_id)
        svc.approve_release(ctx, staff.approver, release_id)
        svc.publish_release(ctx, staff.author, release_id)
        version = get_release(ctx, release_id).versions[Language.EN]
        assert version.title == sample.title
        position = 0
        for paragraph, points in sample.paragraphs:
            for line in [paragraph, *points]:
                found_at = version.body.find(line, position)
                assert found_at >= position, f"missing or out of order: {line[:40]}"
                position = found_at + len(line)
