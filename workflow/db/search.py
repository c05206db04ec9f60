"""Finding releases by the words in their text, in Korean and in English.

Korean writes particles and suffixes onto the word: the text says 외교부는 ("the
Ministry of Foreign Affairs" + topic particle) or 코로나19, and a reader searches 외교 or
코로나. A word-based index (PostgreSQL's ``to_tsvector``, FTS5's default tokenizer)
keeps 외교부는 as one token and finds nothing; Korean needs *substring* matching, and
many useful Korean words are two syllables long. So each search word must occur
anywhere in the text, ignoring case, and every word must occur (AND):

* **SQLite**: an FTS5 table with the ``trigram`` tokenizer over ``revisions`` (created
  by migration 0005, kept by triggers: revisions are immutable, one row per save). A
  quoted phrase of three or more characters is a substring match answered by the index.
  A trigram index cannot answer a word shorter than three characters (외교, "UN"), so
  those fall back to ``LIKE`` on the same rows, which the other words have already
  narrowed down when there are any.
* **PostgreSQL**: ``ILIKE '%word%'`` on ``title || ' ' || subtitle || ' ' || body``,
  with a pg_trgm GIN index on exactly that expression, which PostgreSQL uses for
  ``ILIKE`` when the word has a trigram (three characters, or fewer at a word's start).
  It needs no dictionary and no morphological analyser for Korean, and it gives the
  same answers as SQLite's form, so the tests check one behaviour on both.

Neither ranks results (the public list stays newest first, like the ministry's own
site), and English words match inside longer ones ("press" finds "express"), the price
of one rule for both languages. A Korean morphological analyser (mecab-ko, PGroonga)
would rank better but is a server component we would have to install and run.

The index covers every revision, drafts included; callers restrict matches to the
*live* revision of *public* releases, so nothing unpublished is ever found.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import ColumnElement, and_, column, literal_column, select, table

from workflow.db.tables import RevisionRow

SQLITE_INDEX: Final = "revisions_search"
POSTGRES_INDEX: Final = "ix_revisions_search"
MAX_WORDS: Final = 8
MIN_INDEXED: Final = 3  # the trigram tokenizer needs three characters


def is_search_index(name: str | None) -> bool:
    """The index's own tables and index, which the models do not describe (the drift
    check and autogenerate leave them alone)."""
    return bool(name) and (
        name in (POSTGRES_INDEX, SQLITE_INDEX) or str(name).startswith(SQLITE_INDEX + "_")
    )


def search_words(query: str) -> list[str]:
    """The words of ``query``: split on white space, duplicates dropped, at most
    ``MAX_WORDS`` (a longer query is a mistake or an attack, not a search)."""
    words: list[str] = []
    for word in query.split():
        if word.lower() not in (w.lower() for w in words):
            words.append(word)
    return words[:MAX_WORDS]


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def revision_contains(word: str, dialect: str) -> ColumnElement[bool]:
    """``RevisionRow``'s title, subtitle or body contains ``word``, ignoring case."""
    if dialect == "postgresql":
        # Exactly the indexed expression; the separator is a literal, not a parameter,
        # or the planner would not recognise it.
        space: ColumnElement[str] = literal_column("' '")
        document = RevisionRow.title.op("||")(space).op("||")(RevisionRow.subtitle)
        document = document.op("||")(space).op("||")(RevisionRow.body)
        return document.ilike(f"%{_escape_like(word)}%", escape="\\")
    if len(word) >= MIN_INDEXED:
        phrase = '"' + word.replace('"', '""') + '"'
        index = table(SQLITE_INDEX, column("rowid"))
        return RevisionRow.id.in_(
            select(index.c.rowid).where(literal_column(SQLITE_INDEX).op("MATCH")(phrase))
        )
    pattern = f"%{_escape_like(word)}%"
    # SQLite's LIKE ignores case for ASCII only, which is all that has case among the
    # short words that reach this branch (Hangul has none).
    return (
        RevisionRow.title.like(pattern, escape="\\")
        | RevisionRow.subtitle.like(pattern, escape="\\")
        | RevisionRow.body.like(pattern, escape="\\")
    )


def revision_contains_all(words: list[str], dialect: str) -> ColumnElement[bool]:
    return and_(*(revision_contains(word, dialect) for word in words))
