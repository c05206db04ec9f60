"""Random lifecycles of one release against the table of who is told what.

A model of the release (edits, approval, schedules, publication, corrections, a late
translation, a withdrawal) and of six journalists (trusted or not, reading Korean,
English or both) is driven by hypothesis; each event is put to the registry's rules as
``workflow.distribution.planning`` does, messages are delivered when due, and at the end
every journalist's inbox is checked against the release as it stands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from workflow import handlers
from workflow.distribution import rules
from workflow.distribution.rules import Holding, Recipient
from workflow.domain import events as ev

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
PEOPLE = {
    "trusted-ko": ("ko", True),
    "trusted-en": ("en", True),
    "trusted-both": ("both", True),
    "reader-ko": ("ko", False),
    "reader-en": ("en", False),
    "reader-both": ("both", False),
}


@dataclass
class Mail:
    kind: str
    language: str
    not_before: datetime
    text_key: str
    embargo_until: datetime | None
    planned_at: datetime
    sent: bool = False
    cancelled: bool = False
    carried: dict[str, int] = field(default_factory=dict)  # the text, once sent


@dataclass
class Model:
    now: datetime = START
    state: str = "review"
    revisions: dict[str, int] = field(default_factory=lambda: {"ko": 1})
    live: dict[str, int] = field(default_factory=dict)
    publish_at: datetime | None = None
    embargo_until: datetime | None = None
    inbox: dict[str, list[Mail]] = field(default_factory=lambda: {p: [] for p in PEOPLE})

    # --- the release --------------------------------------------------------------------

    def edit(self, language: str) -> None:
        if self.state not in ("review", "approved", "scheduled"):
            return
        self.revisions[language] = self.revisions.get(language, 0) + 1
        if self.state == "scheduled":
            self._unschedule()
        self.state = "review"

    def approve(self) -> None:
        if self.state == "review":
            self.state = "approved"

    def schedule(self, minutes: int, embargo_minutes: int | None) -> None:
        if self.state not in ("approved", "scheduled"):
            return
        rescheduled = self.state == "scheduled"
        self.state = "scheduled"
        self.publish_at = self.now + timedelta(minutes=minutes)
        self.embargo_until = (
            None
            if embargo_minutes is None
            else self.publish_at + timedelta(minutes=embargo_minutes)
        )
        self._event(
            ev.ReleaseScheduled,
            publish_at=self.publish_at.isoformat(),
            embargo_until=ev.iso(self.embargo_until),
            rescheduled=rescheduled,
        )

    def unschedule(self) -> None:
        if self.state == "scheduled":
            self._unschedule()
            self.state = "approved"

    def _unschedule(self) -> None:
        embargo = self.embargo_until
        self.publish_at = self.embargo_until = None
        self._event(ev.ReleaseUnscheduled, embargo_until=ev.iso(embargo))

    def publish_now(self) -> None:
        if self.state == "approved":
            self._publish()

    def _publish(self) -> None:
        self.state = "published"
        self.live = dict(self.revisions)
        self._event(
            ev.ReleasePublished,
            number="2026-0001",
            languages=sorted(self.live),
            scheduled_for=None,
            embargo_until=ev.iso(self.embargo_until),
        )

    def correct(self, language: str) -> None:
        if self.state == "published" and language in self.live:
            self.revisions[language] += 1
            self.live[language] = self.revisions[language]
            self._event(ev.CorrectionPublished, number="n", note="x", languages=[language])

    def translate(self) -> None:
        if self.state == "published" and "en" not in self.live:
            self.revisions["en"] = self.live["en"] = 1
            self._event(ev.TranslationPublished, number="n", languages=["en"])

    def withdraw(self) -> None:
        if self.state in ("scheduled", "published"):
            self.state = "withdrawn"
            self._event(ev.ReleaseWithdrawn, reason="x", was_public=False)

    def wait(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        if self.state == "scheduled" and self.publish_at and self.publish_at <= self.now:
            self._publish()
        self._deliver()

    # --- what the journalists are told -----------------------------------------------------

    def _release(self) -> rules.Release:
        live = frozenset(self.live) or frozenset(self.revisions)
        return rules.Release(
            "ko", live, rules.text_key(self.revisions), self.embargo_until, self.publish_at
        )

    def _event(self, kind: type[ev.ReleaseEvent], **fields: Any) -> None:
        event = kind(occurred_at=self.now.isoformat(), actor_id=1, release_id=1, **fields)
        self._deliver()
        self._cancel(event)
        [rule] = handlers.reactions(event).deliveries
        release = self._release()
        for person, (language, trusted) in PEOPLE.items():
            who = Recipient(language, trusted, True, _holding(self.inbox[person]))
            told = rules.answer(rule, event, release, who, self.now)
            if told is not None:
                self.inbox[person].append(
                    Mail(
                        told.kind,
                        told.language,
                        told.not_before,
                        told.text_key,
                        told.embargo_until,
                        self.now,
                    )
                )
        self._deliver()

    def _cancel(self, event: ev.Event) -> None:
        """As planning does: unsent news of a schedule that no longer holds, and
        anything unsent of a release withdrawn; the public text not yet sent goes in the
        language a late translation made live."""
        if isinstance(event, ev.TranslationPublished):
            release = self._release()
            for person, (language, _) in PEOPLE.items():
                for mail in self.inbox[person]:
                    if not mail.sent and mail.kind in (rules.RELEASE, rules.LIFTED):
                        mail.language = release.reads(language)
            return
        if isinstance(event, ev.ReleaseUnscheduled):
            kinds: set[str] | None = {rules.EMBARGOED, rules.UPDATED, rules.EMBARGO_MOVED}
        elif isinstance(event, ev.ReleaseWithdrawn):
            kinds = None
        else:
            return
        for mails in self.inbox.values():
            for mail in mails:
                if not mail.sent and (kinds is None or mail.kind in kinds):
                    mail.cancelled = True

    def _deliver(self) -> None:
        for mails in self.inbox.values():
            for mail in mails:
                if not mail.sent and not mail.cancelled and mail.not_before <= self.now:
                    mail.sent = True
                    under_embargo = mail.kind in rules.EMBARGO_KINDS
                    mail.carried = (
                        rules.revisions(mail.text_key) if under_embargo else dict(self.live)
                    )


def _holding(mails: list[Mail]) -> Holding:
    """What planning reads of a subscriber's rows: the cancelled ones left out."""
    return rules.holding(
        rules.Sent(mail.kind, mail.language, mail.sent, mail.text_key, mail.embargo_until)
        for mail in mails
        if not mail.cancelled
    )


steps = st.lists(
    st.one_of(
        st.tuples(st.just("edit"), st.sampled_from(["ko", "en"])),
        st.tuples(st.just("approve")),
        st.tuples(
            st.just("schedule"),
            st.integers(1, 90),
            st.one_of(st.none(), st.integers(0, 120)),
        ),
        st.tuples(st.just("unschedule")),
        st.tuples(st.just("publish_now")),
        st.tuples(st.just("correct"), st.sampled_from(["ko", "en"])),
        st.tuples(st.just("translate")),
        st.tuples(st.just("withdraw")),
        st.tuples(st.just("wait"), st.integers(1, 120)),
    ),
    max_size=25,
)


@settings(max_examples=100, deadline=None)
@given(steps)
# A reader of both sent the original, then its translation, then a correction of the
# translation: they held both versions, one message each, and were told of no change.
@example(
    [
        ("approve",),
        ("schedule", 1, 0),
        ("unschedule",),
        ("publish_now",),
        ("translate",),
        ("correct", "en"),
    ]
)
def test_every_journalist_ends_with_what_is_live(actions: list[tuple[Any, ...]]) -> None:
    model = Model()
    for name, *arguments in actions:
        getattr(model, name)(*arguments)
    model.wait(24 * 60)  # everything due has gone out
    for person, (language, trusted) in PEOPLE.items():
        sent = [mail for mail in model.inbox[person] if mail.sent]
        _no_correction_of_an_unread_version(sent)
        _their_language_while_it_is_live(sent, language, model)
        if not trusted or not any(mail.kind == rules.EMBARGOED for mail in sent):
            continue
        last = sent[-1]
        if model.state == "withdrawn":
            assert last.kind == rules.WITHDRAWAL, (person, last)
        elif model.state == "published":
            assert last.kind in rules.PUBLIC_KINDS, (person, last)
            shown = _languages(last.language)
            assert {k: v for k, v in last.carried.items() if k in shown} == {
                k: v for k, v in model.live.items() if k in shown
            }, (person, last)
        elif model.state == "scheduled":
            assert last.kind in (rules.EMBARGOED, rules.UPDATED, rules.EMBARGO_MOVED), last
            assert last.text_key == rules.text_key(model.revisions), (person, last)
            assert last.embargo_until == (model.embargo_until or model.publish_at), last
        else:  # back in review, or approved and not scheduled
            assert last.kind == rules.SUSPENDED, (person, model.state, last)


def _languages(language: str) -> set[str]:
    return {"ko", "en"} if language == rules.BOTH else {language}


def _no_correction_of_an_unread_version(sent: list[Mail]) -> None:
    read: set[str] = set()
    for mail in sent:
        if mail.kind in (rules.RELEASE, rules.LIFTED, rules.TRANSLATION):
            read |= _languages(mail.language)
        if mail.kind == rules.CORRECTION:
            assert _languages(mail.language) & read, mail


def _their_language_while_it_is_live(sent: list[Mail], language: str, model: Model) -> None:
    for mail in sent:
        if mail.kind not in rules.PUBLIC_KINDS:
            continue
        if language == rules.BOTH:
            assert mail.language in ("ko", "en", rules.BOTH), mail
        elif language in mail.carried:
            assert language in _languages(mail.language), (language, mail)
