"""A topic releases are filed under, named in English and in Korean."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.domain.values import Language


@dataclass(frozen=True, slots=True)
class Topic:
    """``name`` is the English name, ``name_ko`` the Korean one, empty until an admin
    sets it (the English name stands in until then)."""

    id: int
    name: str
    name_ko: str = ""

    def name_in(self, language: Language | str) -> str:
        """The topic's name in ``language`` ("ko" or "en")."""
        return (self.name_ko or self.name) if language == Language.KO else self.name


def topic_name(name: str, name_ko: str | None, language: Language | str) -> str:
    """A topic's name in ``language`` from its two columns (see ``Topic.name_in``)."""
    return (name_ko or name) if language == Language.KO else name
