"""Stage 1: text -> AST (lark grammar, spans on every node, human syntax errors)."""

from . import ast
from .parser import STATEMENT_KEYWORDS, grammar_text, parse
from .unparse import unparse

__all__ = ["ast", "parse", "unparse", "grammar_text", "STATEMENT_KEYWORDS"]
