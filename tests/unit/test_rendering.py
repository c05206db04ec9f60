"""Markdown to sanitised HTML: what readers of the web page and the emails get."""

from __future__ import annotations

import pytest

from tests.html_inspection import dangerous_markup
from workflow.rendering import render_markdown


def test_press_release_markdown_renders() -> None:
    html = render_markdown(
        "# 제목\n\n1. 첫째\n\n   - 하위 항목\n\n| 구분 | 값 |\n|:--|--:|\n| 가 | 1 |\n\n**강조** ~~삭제~~"
    )
    assert "<h1>제목</h1>" in html
    assert "<li>하위 항목</li>" in html
    assert '<td style="text-align:right">1</td>' in html
    assert "<strong>강조</strong> <s>삭제</s>" in html


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        "[x](javascript:alert(1))",
        "[x](JAVASCRIPT:alert(1))",
        "[x](  javascript:alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](javascript:alert(1))",
        '<svg onload="alert(1)"></svg>',
        '<iframe src="https://evil.example"></iframe>',
        "<style>body{display:none}</style>",
        '[x](https://ok.example "title" onmouseover="alert(1)")',
        "<div onclick='alert(1)'>x</div>",
    ],
)
def test_no_script_no_handler_no_script_link(hostile: str) -> None:
    html = render_markdown(hostile)
    assert dangerous_markup(html) == [], html


def test_the_inspection_would_see_an_attack() -> None:
    assert dangerous_markup('<a href=" JavaScript:x" onclick="y">z</a><script></script>') == [
        "a href= JavaScript:x",
        "a onclick=",
        "<script>",
    ]


def test_links_are_kept_and_marked_external() -> None:
    html = render_markdown("[외교부](https://www.mofa.go.kr) <mailto:press@mofa.go.kr>")
    assert '<a href="https://www.mofa.go.kr" rel="noopener noreferrer nofollow">외교부</a>' in html
    assert 'href="mailto:press@mofa.go.kr"' in html


def test_raw_html_is_shown_as_text() -> None:
    assert render_markdown("<b>bold?</b>") == "<p>&lt;b&gt;bold?&lt;/b&gt;</p>\n"
