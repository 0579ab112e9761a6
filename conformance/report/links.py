"""The http(s) links in a reason (upstream issues, docs), for the JSON and for
the renderers to make clickable while escaping everything around them.

>>> links_in("see https://github.com/pytorch/pytorch/issues/1, and (https://x.org/a_(b)).")
['https://github.com/pytorch/pytorch/issues/1', 'https://x.org/a_(b)']
"""

from __future__ import annotations

import re

# No whitespace, quotes, angle brackets or backticks: a link ends where markup could begin.
_URL = re.compile(r"https?://[^\s<>\"'`|\\{}^]+")
_TRAILING = ".,;:!?)]}"


def _trim(url: str) -> str:
    """Drop punctuation that ends the sentence rather than the link; keep a ``)``
    that closes a ``(`` of the link itself."""
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def split_links(text: str) -> list[tuple[str, bool]]:
    """``text`` as consecutive pieces, each ``(piece, is_link)``."""
    pieces: list[tuple[str, bool]] = []
    at = 0
    for match in _URL.finditer(text):
        url = _trim(match[0])
        if len(url) <= len("https://"):
            continue
        if match.start() > at:
            pieces.append((text[at : match.start()], False))
        pieces.append((url, True))
        at = match.start() + len(url)
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces


def links_in(text: str) -> list[str]:
    return list(dict.fromkeys(piece for piece, is_link in split_links(text) if is_link))
