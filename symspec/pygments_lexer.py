"""A pygments lexer for .sym files (docs/tooling.md): ``pygmentize -l sym FILE``.

Registered through the ``pygments.lexers`` entry point; pygments is optional
(the ``dev`` extra), and nothing on symspec's own paths imports this module.
Keywords are contextual as in the grammar: ``law``, ``model``... only at the
start of a statement, ``on``/``by`` only in an action, ``under`` only in a
layer, ``x`` is the product sign only in group expressions, ``forall``,
``when``, ``and``, ``or``, ``not`` only in laws.  Constructors, group
families, transforms, builtins, prior kinds and break kinds are ``Name.Builtin``.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, include, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, Text, Whitespace

__all__ = ["SymLexer", "BUILTIN_NAMES", "STATEMENT_KEYWORDS"]

STATEMENT_KEYWORDS = ("spec", "param", "domain", "graph", "group", "action", "model", "law", "layer", "prior", "break")

BUILTIN_NAMES = (
    # domains and outputs
    "cyclic", "range", "set", "nodes", "tensor", "real", "bool", "class", "units",
    # group families
    "dihedral", "symmetric", "alternating", "SO", "O", "translations", "E", "SE", "automorphisms",
    # graphs
    "grid", "cylinder", "torus", "cycle", "path", "complete", "hypercube", "petersen", "edges",
    # transforms of actions
    "rot90", "flip", "roll", "permute", "transpose", "permute_dims", "negate", "shift", "scale", "relabel",
    "matrix", "identity", "translate", "rigid", "compose",
    # law builtins, prior kinds and break kinds
    "logit", "sigmoid", "between", "abs", "min", "max", "nuclear", "entropy", "lipschitz", "attention",
)  # fmt: skip

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_BLANK = r"[ \t\f]+"


def _statement(keyword: str, name_token, state: str):
    """``keyword NAME`` at the start of a statement, then ``state`` until the statement's end."""
    return (
        rf"^([ \t\f]*)({keyword})\b({_BLANK})?({_NAME})?",
        bygroups(Whitespace, Keyword.Declaration, Whitespace, name_token),
        state,
    )


def _inner(extra: list) -> list:
    """A bracketed region of a statement: newlines are spaces in it, it ends at its closing bracket."""
    return [(r"\n", Whitespace), (r"[)\]]", Punctuation, "#pop"), *extra, include("common")]


class SymLexer(RegexLexer):
    """The .sym language of symspec."""

    name = "symspec"
    aliases = ["sym", "symspec"]
    filenames = ["*.sym"]
    mimetypes = ["text/x-symspec"]

    _law_words = [
        (words(("forall", "when"), suffix=r"\b"), Keyword),
        (words(("and", "or", "not"), suffix=r"\b"), Operator.Word),
    ]
    _product = [(r"\bx\b", Operator.Word)]

    tokens = {
        "root": [
            (r"\n", Whitespace),
            (_BLANK, Whitespace),
            (r"#.*$", Comment.Single),
            _statement("spec", Name.Namespace, "statement"),
            _statement("param", Name.Constant, "statement"),
            _statement("domain", Name.Class, "statement"),
            _statement("graph", Name.Class, "statement"),
            _statement("group", Name.Class, "group"),
            (
                rf"^([ \t\f]*)(action)\b({_BLANK})?({_NAME})?",
                bygroups(Whitespace, Keyword.Declaration, Whitespace, Name.Class),
                "action",
            ),
            _statement("model", Name.Function, "statement"),
            _statement("law", Name.Label, "law"),
            _statement("layer", Name.Label, "layer"),
            _statement("prior", Name.Label, "prior"),
            _statement("break", Name.Label, "prior"),  # the same shape: NAME: KIND(args) [options]
            (r"", Text, "statement"),  # anything else: lexed as a statement (check reports it)
        ],
        "common": [
            (_BLANK, Whitespace),
            (r"#.*$", Comment.Single),
            (r"[(\[]", Punctuation, "brackets"),
            (r"[0-9]+\.[0-9]+([eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+", Number.Float),
            (r"[0-9]+", Number.Integer),
            (r"==|!=|<=|>=|=>|->", Operator),
            (r"[=+\-*^<>|.]", Operator),
            (r"[:,{}]", Punctuation),
            (words(BUILTIN_NAMES, prefix=r"\b", suffix=r"\b"), Name.Builtin),
            (rf"{_NAME}(?=[ \t\f]*\()", Name.Function),
            (_NAME, Name),
        ],
        "statement": [(r"\n", Whitespace, "#pop"), include("common")],
        "brackets": _inner([]),
        "law": [
            (r"\n", Whitespace, "#pop"),
            (r"\[", Punctuation, "options"),
            (r"\(", Punctuation, "law-brackets"),
            *_law_words,
            include("common"),
        ],
        "law-brackets": _inner([(r"\(", Punctuation, "law-brackets"), *_law_words]),
        "options": [
            (r"\n", Whitespace),
            (r"\]", Punctuation, "#pop"),
            (rf"({_NAME})(?=[ \t\f]+[-0-9A-Za-z_])", Name.Attribute),
            include("common"),
        ],
        "prior": [(r"\n", Whitespace, "#pop"), (r"\[", Punctuation, "options"), include("common")],
        "action": [
            (r"\n", Whitespace, "#pop"),
            (words(("on", "by"), prefix=r"\b", suffix=r"\b"), Keyword),
            (r"\{", Punctuation, "block"),
            include("common"),
        ],
        "block": [
            (r"\n", Whitespace),
            (r"\}", Punctuation, "#pop"),
            (rf"({_NAME})([ \t\f]*)(->)", bygroups(Name.Variable, Whitespace, Operator)),
            include("common"),
        ],
        "group": [
            (r"\n", Whitespace, "#pop"),
            (r"\(", Punctuation, "group-brackets"),
            *_product,
            include("common"),
        ],
        "group-brackets": _inner([(r"\(", Punctuation, "group-brackets"), *_product]),
        "layer": [
            (r"\n", Whitespace, "#pop"),
            (r"\bunder\b", Keyword),
            (r"\(", Punctuation, "group-brackets"),
            *_product,
            include("common"),
        ],
    }
