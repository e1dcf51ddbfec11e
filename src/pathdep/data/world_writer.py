"""A document being written word by word, with the character offsets of what it contains.

Every annotation is recorded at the moment its text is written, so offsets are
right by construction: ``Writer.word`` returns where its word starts.
"""

from __future__ import annotations

BRACKETS = ("()", "[]", "{}")
ANNOTATION_KEYS = ("sentences", "brackets", "emails", "acronyms", "repeats", "facts", "tracked")


class Writer:
    """Appends words (space-separated unless glued) and collects the annotations."""

    def __init__(self, language: str):
        self.parts: list[str] = []
        self.pos = 0
        self.glue = True  # no space before the next word
        self.cap = False  # capitalise the next word (a sentence starts)
        self.sentence_start = 0
        self.ann: dict = {"language": language} | {k: [] for k in ANNOTATION_KEYS}

    def _emit(self, s: str) -> None:
        self.parts.append(s)
        self.pos += len(s)

    def word(self, s: str, glue: bool = False) -> int:
        """Write ``s`` (a word, or several words as one string); return its start offset."""
        if not (glue or self.glue):
            self._emit(" ")
        self.glue = False
        if self.cap:
            s = s[0].upper() + s[1:]
            self.cap = False
            self.sentence_start = self.pos
        start = self.pos
        self._emit(s)
        return start

    def words(self, ws) -> None:
        for w in ws:
            self.word(w)

    def begin(self) -> None:
        """The next word starts a sentence."""
        self.cap = True

    def end(self, punct: str = ".") -> None:
        """Close the sentence with its end punctuation."""
        self.word(punct, glue=True)
        self.ann["sentences"].append([self.sentence_start, self.pos])

    def open(self, kind: str) -> int:
        start = self.word(kind[0])
        self.glue = True
        return start

    def close(self, kind: str, open_at: int, depth: int) -> None:
        at = self.word(kind[1], glue=True)
        self.ann["brackets"].append({"open": open_at, "close": at, "kind": kind, "depth": depth})

    def track(self, item: str) -> None:
        if item not in self.ann["tracked"]:
            self.ann["tracked"].append(item)

    def text(self) -> str:
        return "".join(self.parts)
