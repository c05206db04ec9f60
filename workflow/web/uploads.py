"""What an upload form carries, read the same way by the API and the office pages: the
file, spooled to a file of its own, and each language version's words and notes."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from workflow.domain.values import Language
from workflow.services.attachments import CHUNK

WORD_FIELDS = ("title", "alt", "caption", "credit")


def form_words(
    form: Mapping[str, object], primary: Language | None
) -> dict[Language, dict[str, str]]:
    """Each language's words from the form: plain names speak for ``primary``."""
    words: dict[Language, dict[str, str]] = {language: {} for language in Language}
    for name in WORD_FIELDS:
        for language in Language:
            value = form.get(f"{name}_{language.value}")
            if isinstance(value, str):
                words[language][name] = value
        plain = form.get(name)
        if isinstance(plain, str) and primary is not None and name not in words[primary]:
            words[primary][name] = plain
    return words


def form_notes(form: Mapping[str, object], primary: Language | None) -> dict[Language, str]:
    notes = {
        language: value
        for language in Language
        if isinstance(value := form.get(f"note_{language.value}"), str) and value.strip()
    }
    plain = form.get("note")
    if isinstance(plain, str) and plain.strip() and primary is not None:
        notes.setdefault(primary, plain)
    return notes


async def spooled_upload(upload: UploadFile) -> Path:
    """The upload copied to a file of its own on disk, for inspection by path (the
    caller removes it): never more than a chunk of it in memory."""
    return await run_in_threadpool(copied_upload, upload)


def copied_upload(upload: UploadFile) -> Path:
    """``spooled_upload`` for a caller already in a thread."""
    handle = tempfile.NamedTemporaryFile(prefix="newsroom-upload-", delete=False)  # noqa: SIM115  # removed by the caller
    with handle:
        upload.file.seek(0)
        shutil.copyfileobj(upload.file, handle, CHUNK)
    return Path(handle.name)
