"""Token categories from the decoded string: a special token is not a bracket."""

from pathdep.analysis.tokens import _char_flags


def test_end_of_text_is_no_bracket_or_punctuation():
    # Found on the induction example: <|endoftext|> (its '<' and '>') made "bracket" the
    # over-represented outlier category of a suite whose only other tokens are symbols c0..c63.
    eot = _char_flags("<|endoftext|>")
    assert not eot["bracket"] and not eot["punctuation"] and not eot["whitespace"]
    assert _char_flags("Ġ(")["bracket"] and _char_flags(")")["punctuation"]
    assert _char_flags("ĠTamsin")["capitalised"] and _char_flags("Ġ42")["digit"]
    assert _char_flags("Ġ")["whitespace"]
