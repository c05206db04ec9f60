"""The editor (a new release, editing one, a correction) and its preview; the
translator's page (``office_translation``) uses the same pieces. Each language version
sits side by side (ko | en) above a preview drawn by the public page's own partial,
``release_text.html``.

A save is one command (``releases.save_edits``): its texts and details are written
together or, on any refusal, not at all. Saving is optimistic: the form carries, per
language, the revision it started from. If someone saved that language since, nothing is
saved and the editor comes back (409) with their text beside the user's and the
difference between them; the user's text stays in the textarea, now based on the newer
revision, so saving again is a deliberate choice.

A body pasted from the ministry's word processor is stored in its canonical Markdown form
(``workflow.domain.house_format``): the preview, the "Preview" button and "Read the
header" show that form, so the officer sees before saving what will be kept. "Read the
header" (and, with the script, a paste) fills the title, subtitle and contact from the
header block a pasted release starts with, and shows its embargo time and department.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from workflow.domain.diff import unified_diff
from workflow.domain.errors import DomainError, StaleEdit
from workflow.domain.house_format import PastedRelease, canonical_body, parse_header
from workflow.domain.states import ReleaseState
from workflow.domain.values import Contact, Language, Text
from workflow.services import people, queries
from workflow.services import releases as svc
from workflow.web.pages import StaffViewer, Viewer, environment, redirect, render
from workflow.web.routers.office import CsrfToken, office_values, refusal, signed_in

router = APIRouter(include_in_schema=False)

Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
Line = Annotated[str, Form(max_length=300)]
Body = Annotated[str, Form(max_length=200_000)]
Base = Annotated[int, Form(ge=0, le=2_147_483_647)]


@dataclass
class EditorForm:
    """What the editor posts: a text per language, the revision each started from, and
    the release's details."""

    texts: dict[Language, dict[str, Any]]
    primary: str = "ko"
    topics: list[int] = field(default_factory=list)
    contact: dict[str, str] = field(default_factory=dict)
    # A correction's public note for each live version, shown on that version's page.
    notes: dict[Language, str] = field(default_factory=dict)
    with_details: bool = False
    preview: bool = False
    read_header: bool = False
    # A change to a published release: "major" (with the notes) or "minor" (none).
    change: str = "major"

    def text(self, language: Language) -> Text:
        """The language's text as it would be stored: its body in the canonical form, so
        that a pasted text equal to the saved one is no change."""
        t = self.texts[language]
        return Text(t["title"].strip(), canonical_body(_lines(t["body"])), t["subtitle"].strip())

    def has_text(self, language: Language) -> bool:
        t = self.texts[language]
        return bool(t["title"].strip() or t["subtitle"].strip() or t["body"].strip())


def _lines(body: str) -> str:
    return body.replace("\r\n", "\n").replace("\r", "\n")


def editor_form(
    title_ko: Line = "",
    subtitle_ko: Line = "",
    body_ko: Body = "",
    base_ko: Base = 0,
    title_en: Line = "",
    subtitle_en: Line = "",
    body_en: Body = "",
    base_en: Base = 0,
    primary: Annotated[str, Form(max_length=2)] = "ko",
    topics: Annotated[list[int] | None, Form()] = None,
    contact_name: Annotated[str, Form(max_length=200)] = "",
    contact_phone: Annotated[str, Form(max_length=50)] = "",
    contact_email: Annotated[str, Form(max_length=320)] = "",
    note_ko: Annotated[str, Form(max_length=1_000)] = "",
    note_en: Annotated[str, Form(max_length=1_000)] = "",
    details: Annotated[str, Form(max_length=1)] = "",
    preview: Annotated[str, Form(max_length=1)] = "",
    read_header: Annotated[str, Form(max_length=1)] = "",
    change: Annotated[str, Form(max_length=10)] = "major",
) -> EditorForm:
    return EditorForm(
        texts={
            Language.KO: {
                "title": title_ko,
                "subtitle": subtitle_ko,
                "body": body_ko,
                "base": base_ko,
            },
            Language.EN: {
                "title": title_en,
                "subtitle": subtitle_en,
                "body": body_en,
                "base": base_en,
            },
        },
        primary=primary,
        topics=topics or [],
        contact={"name": contact_name, "phone": contact_phone, "email": contact_email},
        notes={Language.KO: note_ko, Language.EN: note_en},
        with_details=bool(details),
        preview=bool(preview),
        read_header=bool(read_header),
        change=change,
    )


Posted = Annotated[EditorForm, Depends(editor_form)]


def editor_page(
    who: Viewer,
    form: EditorForm,
    *,
    release: queries.ReleaseView | None = None,
    status: int = 200,
    error: str = "",
    conflicts: list[dict[str, Any]] | None = None,
) -> HTMLResponse:
    topics = people.topics_in(who.ctx, who.language)
    editable = {c.action for c in release.choices if c.allowed} if release else set()
    show_details = release is None or "update_details" in editable
    header = None
    if form.preview or form.read_header:
        header = shown_as_stored(who, form, read_header=form.read_header, contact=show_details)
    return render(
        who,
        "office/editor.html",
        status=status,
        release=release,
        form=form,
        languages=list(Language),
        topics=topics,
        show_details=show_details,
        correcting=release is not None and release.state is ReleaseState.PUBLISHED,
        noted_languages=_live_languages(release),
        conflicts=conflicts or [],
        error=error,
        header=header,
        **office_values(who),
    )


@dataclass(frozen=True, slots=True)
class HeaderRead:
    """What "Read the header" filled in, each field with its language (None for the
    release's contact), and what it found for the officer to use when scheduling."""

    filled: list[tuple[str, Language | None]]
    embargo: str = ""  # in the office's zone: "2026-12-08 06:00 KST"
    department: str = ""


def shown_as_stored(
    who: Viewer, form: EditorForm, *, read_header: bool, contact: bool
) -> HeaderRead | None:
    """Puts in the form what saving would store, so that the textarea and the preview
    show it: each body in its canonical form, after the header block it starts with if
    ``read_header``, whose title, subtitle and (where the form has them, ``contact``)
    contact fill the form's. Nothing is saved."""
    filled: list[tuple[str, Language | None]] = []
    embargo = department = ""
    for lang in Language:
        t = form.texts[lang]
        pasted = parse_header(_lines(t["body"])) if read_header else None
        if pasted is None or not pasted.found:
            t["body"] = canonical_body(_lines(t["body"]))
            continue
        for name in ("title", "subtitle"):
            if name in pasted.found:
                t[name] = getattr(pasted, name)
                filled.append((name, lang))
        t["body"] = pasted.body
        filled.append(("body", lang))
        for name, value in _contact(pasted).items():
            if contact and not any(f == name for f, _ in filled):
                form.contact[name.removeprefix("contact_")] = value
                filled.append((name, None))
        if pasted.embargo_until and not embargo:
            embargo = office_time(pasted.embargo_until, who.ctx.settings.office_zone)
        department = department or pasted.department
    return HeaderRead(filled, embargo, department) if read_header else None


def _contact(pasted: PastedRelease) -> dict[str, str]:
    names = ("contact_name", "contact_phone", "contact_email")
    return {name: getattr(pasted, name) for name in names if name in pasted.found}


def office_time(moment: datetime, zone: tzinfo) -> str:
    """A moment as the office reads it: ``2026-12-08 06:00 KST``."""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


AMENDABLE = frozenset(
    {
        ReleaseState.PUBLISHED,
        ReleaseState.CORRECTION_IN_REVIEW,
        ReleaseState.CORRECTION_CHANGES_REQUESTED,
    }
)


def _live_languages(release: queries.ReleaseView | None) -> list[Language]:
    """The versions whose change is a correction, needing its own public note: those
    live on a published release or one whose amendment is in review."""
    if release is None or release.state not in AMENDABLE:
        return []
    return [
        lang
        for lang in Language
        if lang in release.versions and release.versions[lang].live_revision is not None
    ]


@router.get("/office/releases/new", response_class=HTMLResponse)
def new_release(who: StaffViewer) -> HTMLResponse:
    form = editor_form(primary=who.language.value)
    return editor_page(who, form)


@router.post("/office/releases/new", response_model=None)
def create_release(
    who: StaffViewer, form: Posted, csrf_token: CsrfToken = ""
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    if form.preview or form.read_header:
        return editor_page(who, form)
    try:
        primary = Language(form.primary)
    except ValueError:
        primary = Language.KO
    others = [lang for lang in Language if lang is not primary and form.has_text(lang)]
    try:
        for lang in others:  # checked before anything is saved
            Text.checked(**text_fields(form.text(lang)))
        outcome = svc.create_release(
            who.ctx,
            signed_in(who).id,
            language=primary,
            topics=form.topics,
            contact=Contact.checked(**form.contact),
            **text_fields(form.text(primary)),
        )
        for lang in others:
            svc.edit_version(
                who.ctx,
                signed_in(who).id,
                outcome.release_id,
                language=lang,
                base_revision=0,
                **text_fields(form.text(lang)),
            )
    except DomainError as error:
        status, message = refusal(who, error)
        return editor_page(who, form, status=status, error=message)
    return redirect(who, f"/office/releases/{outcome.release_id}", who._("Saved."))


def text_fields(text: Text) -> dict[str, str]:
    return {"title": text.title, "subtitle": text.subtitle, "body": text.body}


@router.get("/office/releases/{release_id}/edit", response_class=HTMLResponse)
def edit_release(who: StaffViewer, release_id: Id) -> HTMLResponse:
    release = queries.get_release(who.ctx, release_id, signed_in(who).id)
    topic_ids = {name: topic_id for topic_id, name in people.list_topics(who.ctx)}
    texts: dict[Language, dict[str, Any]] = {}
    for lang in Language:
        v = release.versions.get(lang)
        texts[lang] = {
            "title": v.title if v else "",
            "subtitle": v.subtitle if v else "",
            "body": v.body if v else "",
            "base": v.revision if v else 0,
        }
    form = EditorForm(
        texts=texts,
        primary=release.primary_language.value,
        topics=[topic_ids[name] for name in release.topics if name in topic_ids],
        contact=dict(release.contact),
        notes={lang: v.pending_note for lang, v in release.versions.items()},
    )
    return editor_page(who, form, release=release)


def _base_text(who: Viewer, release_id: int, language: Language, base: int) -> Text:
    """The text a form started from: the language's revision ``base`` (0: none)."""
    for revision in queries.revisions(who.ctx, release_id, language):
        if revision.number == base:
            return revision.text
    return Text("", "")


def conflicts_with(
    who: Viewer, release: queries.ReleaseView, form: EditorForm, languages: list[Language]
) -> list[dict[str, Any]]:
    """The languages in ``languages`` someone saved since the form's base revision, each
    with their text and its difference from the user's; the form's base moves on to the
    current revision, and keeps the user's text."""
    found = []
    for lang in languages:
        current = release.versions.get(lang)
        posted = form.texts[lang]
        if current is None or posted["base"] == current.revision:
            continue
        theirs = Text(current.title, current.body, current.subtitle)
        mine = form.text(lang)
        posted["base"] = current.revision
        if theirs == mine:
            continue  # the same words: nothing to merge
        found.append(
            {
                "language": lang,
                "editor": current.edited_by,
                "revision": current.revision,
                "edited_at": current.edited_at,
                "theirs": theirs,
                "diff": unified_diff(
                    theirs,
                    mine,
                    old_label=f"{current.edited_by}, {lang} revision {current.revision}",
                    new_label=who._("your text"),
                ),
            }
        )
    return found


@router.post("/office/releases/{release_id}/edit", response_model=None)
def save_release(
    who: StaffViewer, release_id: Id, form: Posted, csrf_token: CsrfToken = ""
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    user = signed_in(who)
    release = queries.get_release(who.ctx, release_id, user.id)
    if form.preview or form.read_header:
        return editor_page(who, form, release=release)
    changed = [
        lang
        for lang in Language
        if form.text(lang) != _base_text(who, release_id, lang, form.texts[lang]["base"])
        and (form.has_text(lang) or lang in release.versions)
    ]
    conflicts = conflicts_with(who, release, form, changed)
    if conflicts:
        return editor_page(who, form, release=release, status=409, conflicts=conflicts)
    details = form.with_details and _details_changed(who, release, form)
    try:
        if changed or details:
            svc.save_edits(
                who.ctx,
                user.id,
                release_id,
                texts={
                    lang: svc.VersionEdit(
                        **text_fields(form.text(lang)), base_revision=form.texts[lang]["base"]
                    )
                    for lang in changed
                },
                notes={lang: form.notes.get(lang, "") for lang in changed},
                topics=form.topics if details else None,
                contact=Contact.checked(**form.contact) if details else None,
                change=form.change,
            )
    except StaleEdit:  # saved by someone in the instant between our check and our save
        fresh = queries.get_release(who.ctx, release_id, user.id)
        conflicts = conflicts_with(who, fresh, form, list(Language))
        return editor_page(who, form, release=fresh, status=409, conflicts=conflicts)
    except DomainError as error:
        status, message = refusal(who, error)
        fresh = queries.get_release(who.ctx, release_id, user.id)
        return editor_page(who, form, release=fresh, status=status, error=message)
    notice = who._("Saved.") if changed else who._("Nothing to save: the text is unchanged.")
    return redirect(who, f"/office/releases/{release_id}", notice)


def _details_changed(who: Viewer, release: queries.ReleaseView, form: EditorForm) -> bool:
    names = dict(people.list_topics(who.ctx))
    chosen = sorted(names.get(t, "") for t in set(form.topics))
    return chosen != sorted(release.topics) or {
        k: v.strip() for k, v in form.contact.items()
    } != dict(release.contact)


@router.post("/office/preview", response_class=HTMLResponse)
def preview(
    who: StaffViewer,
    lang: Annotated[Language, Form()],
    title: Line = "",
    subtitle: Line = "",
    body: Body = "",
    csrf_token: CsrfToken = "",
) -> HTMLResponse:
    """One language version as the public page will show it, its body in the form it
    would be stored in: the shared partial alone, for the editor's script to put in
    place."""
    who.check_form(csrf_token)
    text = {"title": title, "subtitle": subtitle, "body": canonical_body(_lines(body))}
    html = environment().get_template("web/release_text.html").render(text=text, text_lang=lang)
    return HTMLResponse(html)


@router.post("/office/header", response_class=JSONResponse)
def pasted_header(who: StaffViewer, body: Body = "", csrf_token: CsrfToken = "") -> JSONResponse:
    """The header block a pasted text starts with, for the editor's script to fill the
    fields with on paste: what "Read the header" does without the script. ``found`` is
    empty when the text starts with no header block."""
    who.check_form(csrf_token)
    pasted = parse_header(_lines(body))
    embargo = pasted.embargo_until
    return JSONResponse(
        {
            "found": sorted(pasted.found),
            "title": pasted.title,
            "subtitle": pasted.subtitle,
            "contact_name": pasted.contact_name,
            "contact_phone": pasted.contact_phone,
            "contact_email": pasted.contact_email,
            "department": pasted.department,
            "embargo": office_time(embargo, who.ctx.settings.office_zone) if embargo else "",
            "body": pasted.body if pasted.found else canonical_body(_lines(body)),
        }
    )
