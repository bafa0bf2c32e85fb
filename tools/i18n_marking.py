"""Find strings meant for people that are not marked for translation (issue 15).

A check over the source, not a hand-kept list: every ``.py`` and template of the packages in
:data:`SCANNED_PACKAGES` is read, and what it shows people must go through gettext.

Python (an AST scan): a string literal or f-string (with at least one word of two letters)
given directly as

- a keyword argument named in :data:`PEOPLE_KEYWORDS` (``verbose_name=``, ``help_text=``,
  ``label=``, ``description=``, ...), or assigned to such a name in a class body (``Meta``'s
  ``verbose_name``, an admin function's ``short_description``);
- the label of a ``TextChoices`` / ``IntegerChoices`` member (``APPLIED = "applied", "Applied"``),
  or the second element of a pair in a literal ``choices=[...]``;
- the message of ``messages.success|error|warning|info|add_message(request, ...)``, of
  ``ValidationError(...)``, of a refusal (``DomainError``, ``Conflict``, ``NotFound``,
  ``PermissionDenied``) and of ``form.add_error(field, ...)``.

Marked means wrapped in a gettext call (``_``, ``gettext``, ``gettext_lazy``, ``pgettext``,
``ngettext``, ... and ``format_html(gettext(...), ...)``-style calls whose first argument is marked).

Templates (Django's own template ``Lexer``): text between tags outside ``{% translate %}`` /
``{% blocktranslate %}`` with a word of two letters, and literal ``title``, ``alt``,
``placeholder``, ``aria-label`` and ``value`` (of a button or submit input) attributes;
``{% comment %}`` blocks, ``<style>`` and ``<script>`` are skipped.

    python -m tools.i18n_marking      # lists what is unmarked; exit status 1 if anything is
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The packages whose every string for people must be marked. Each helper of issue 15 enables
# its own: api and compliance join when their strings are marked.
SCANNED_PACKAGES = ("licences", "quotas", "compliance", "api", "cockpit", "common", "config")
SKIP_DIRS = {"migrations", "locale", "__pycache__", "management"}

PEOPLE_KEYWORDS = {
    "verbose_name",
    "verbose_name_plural",
    "help_text",
    "label",
    "description",
    "short_description",
    "empty_label",
    "empty_value_display",
    "title",
    "caption",
    "pending_caption",
    "done",
}
MESSAGE_FUNCTIONS = {"success", "error", "warning", "info", "debug"}
GETTEXT_FUNCTIONS = {
    "_",
    "gettext",
    "gettext_lazy",
    "pgettext",
    "pgettext_lazy",
    "ngettext",
    "ngettext_lazy",
    "npgettext",
    "npgettext_lazy",
    "gettext_noop",
}
# Exceptions whose message people read: form and API validation, and the domain's refusals
# (an admin message, the API's ``detail``).
REFUSALS = {"ValidationError", "DomainError", "Conflict", "NotFound", "PermissionDenied"}
CHOICES_BASES = {"TextChoices", "IntegerChoices", "Choices"}
WORD = re.compile(r"[A-Za-z]{2,}")


@dataclass(frozen=True)
class Unmarked:
    path: str
    line: int
    text: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.why}: {self.text!r}"


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _literal_text(node: ast.AST) -> str | None:
    """The text of an unmarked string literal or f-string meant for a reader, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr):
        text = "".join(str(part.value) for part in node.values if isinstance(part, ast.Constant))
    elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return _literal_text(node.left) or _literal_text(node.right)
    else:
        return None
    return text if WORD.search(text) else None


RELATIONS = {"ForeignKey", "OneToOneField", "ManyToManyField"}


def _meta_says(meta: ast.ClassDef | None, name: str) -> bool:
    """Whether a model's ``Meta`` sets ``name`` (to anything but False)."""
    if meta is None:
        return False
    for statement in meta.body:
        if isinstance(statement, ast.Assign) and any(_name(target) == name for target in statement.targets):
            return not (isinstance(statement.value, ast.Constant) and statement.value.value is False)
    return False


class _PythonScanner(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.found: list[Unmarked] = []

    def _check(self, node: ast.AST | None, why: str) -> None:
        if node is None:
            return
        text = _literal_text(node)
        if text is not None:
            self.found.append(Unmarked(self.path, getattr(node, "lineno", 0), text, why))

    def _check_pairs(self, node: ast.AST, why: str) -> None:
        if isinstance(node, (ast.List, ast.Tuple)):
            for item in node.elts:
                if isinstance(item, (ast.Tuple, ast.List)) and len(item.elts) == 2:
                    if isinstance(item.elts[1], (ast.List, ast.Tuple)):  # an option group
                        self._check_pairs(item.elts[1], why)
                    else:
                        self._check(item.elts[1], why)

    def visit_Call(self, node: ast.Call) -> None:
        function = _name(node.func)
        for keyword in node.keywords:
            if keyword.arg in PEOPLE_KEYWORDS:
                self._check(keyword.value, f"{keyword.arg}=")
            elif keyword.arg == "choices":
                self._check_pairs(keyword.value, "choices label")
        if (
            function in MESSAGE_FUNCTIONS
            and isinstance(node.func, ast.Attribute)
            and _name(node.func.value) == "messages"
        ):
            self._check(node.args[1] if len(node.args) > 1 else None, f"messages.{function}()")
        elif function == "add_message" and len(node.args) > 2:
            self._check(node.args[2], "messages.add_message()")
        elif function in REFUSALS and node.args:
            self._check(node.args[0], f"{function}()")
        elif function == "add_error" and len(node.args) > 1:
            self._check(node.args[1], "add_error()")
        self.generic_visit(node)

    def _check_field(self, statement: ast.Assign) -> bool:
        """A model field needs a marked ``verbose_name``, a form field a marked ``label``: the
        name Django would derive from the attribute is English. True if it is a model field."""
        call = statement.value
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
            return False
        module, kind = _name(call.func.value), call.func.attr
        if module not in ("models", "forms") or not (kind.endswith("Field") or kind in ("ForeignKey", "OneToOneField")):
            return False
        wanted = "verbose_name" if module == "models" else "label"
        given = {keyword.arg: keyword.value for keyword in call.keywords}
        if wanted not in given:
            positional = call.args[0] if module == "models" and call.args and kind not in RELATIONS else None
            if positional is None or _literal_text(positional) is not None:
                name = _name(statement.targets[0])
                self.found.append(Unmarked(self.path, statement.lineno, name, f"{kind} without a marked {wanted}"))
            return module == "models"
        return module == "models"

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        is_choices = any(_name(base) in CHOICES_BASES for base in node.bases)
        has_model_fields = False
        meta: ast.ClassDef | None = None
        for statement in node.body:
            if isinstance(statement, ast.ClassDef) and statement.name == "Meta":
                meta = statement
            if not isinstance(statement, ast.Assign):
                continue
            if self._check_field(statement):
                has_model_fields = True
            names = [_name(target) for target in statement.targets]
            if is_choices and isinstance(statement.value, ast.Tuple) and len(statement.value.elts) >= 2:
                self._check(statement.value.elts[-1], f"{node.name} choice label")
            elif any(name in PEOPLE_KEYWORDS for name in names):
                self._check(statement.value, f"{names[0]} =")
        if has_model_fields and not _meta_says(meta, "abstract") and not _meta_says(meta, "verbose_name"):
            self.found.append(Unmarked(self.path, node.lineno, node.name, "model without a marked Meta.verbose_name"))
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        # function.short_description = "..." (the admin's older spelling)
        for target in node.targets:
            if isinstance(target, ast.Attribute) and target.attr in PEOPLE_KEYWORDS:
                self._check(node.value, f"{target.attr} =")
        self.generic_visit(node)


def scan_python(source: str, path: str = "<source>") -> list[Unmarked]:
    """Unmarked strings for people in one Python module's source."""
    scanner = _PythonScanner(path)
    scanner.visit(ast.parse(source, filename=path))
    return scanner.found


TAG = re.compile(r"<[^>]*>")
ENTITY = re.compile(r"&#?\w+;")
ATTRIBUTE = re.compile(r"""\b(title|alt|placeholder|aria-label)\s*=\s*"([^"{]*)""", re.IGNORECASE)
BUTTON_VALUE = re.compile(
    r"""<(?:input[^>]*type="(?:submit|button|reset)"|button)[^>]*\bvalue\s*=\s*"([^"{]*)""", re.IGNORECASE
)
RAW_ELEMENTS = re.compile(r"<(style|script)\b.*?</\1>", re.IGNORECASE | re.DOTALL)


# Blocks whose text is markup, not words: the body's CSS classes, styles, the <head>'s extras.
MARKUP_BLOCKS = {"bodyclass", "extrastyle", "extrahead", "blockbots"}


def scan_template(source: str, path: str = "<template>") -> list[Unmarked]:
    """Unmarked text in one Django template's source."""
    from django.template.base import Lexer, TokenType

    found: list[Unmarked] = []
    skip_until: list[str] = []  # closing tags of blocks whose text is not for people
    block_depth: list[bool] = []  # per open {% block %}: whether it holds markup only
    in_tag = False  # the previous text ended inside an HTML tag (``value="{{ x }}``)
    tag_name = ""  # that tag's name
    open_raw = ""  # inside <style> or <script>
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            bits = token.contents.split()
            tag = bits[0] if bits else ""
            if skip_until and tag == skip_until[-1]:
                skip_until.pop()
            elif tag in ("comment", "verbatim", "blocktranslate", "blocktrans"):
                skip_until.append("end" + tag)
            elif tag == "block":
                block_depth.append(len(bits) > 1 and bits[1] in MARKUP_BLOCKS)
            elif tag == "endblock" and block_depth:
                block_depth.pop()
            continue
        if token.token_type != TokenType.TEXT or skip_until or any(block_depth):
            continue
        text, line = token.contents, token.lineno or 0
        if in_tag:
            close = text.find(">")
            inside, text = (text, "") if close == -1 else (text[:close], text[close + 1 :])
            _check_attributes(f"<{tag_name} {inside}>", path, line, found)
            if close == -1:
                continue
            in_tag = False
            if tag_name in ("style", "script"):
                open_raw = tag_name
        if open_raw:
            end = re.search(rf"</{open_raw}\s*>", text, re.IGNORECASE)
            if not end:
                continue
            text, open_raw = text[end.end() :], ""
        text = RAW_ELEMENTS.sub(" ", text)
        opened = re.search(r"<(style|script)\b[^>]*>", text, re.IGNORECASE)
        if opened:
            open_raw, text = opened.group(1).lower(), text[: opened.start()]
        last_open, last_close = text.rfind("<"), text.rfind(">")
        if last_open > last_close:  # a tag left open for a template tag inside it
            named = re.match(r"</?\s*([\w-]*)", text[last_open:])
            in_tag, tag_name = True, named.group(1) if named else ""
            _check_attributes(text[last_open:] + ">", path, line, found)
            text = text[:last_open]
        _check_attributes(text, path, line, found)
        for chunk in TAG.split(text):
            chunk = ENTITY.sub(" ", chunk).strip()
            if WORD.search(chunk):
                found.append(Unmarked(path, line, " ".join(chunk.split()), "template text"))
    return found


def _check_attributes(markup: str, path: str, line: int, found: list[Unmarked]) -> None:
    for match in ATTRIBUTE.finditer(markup):
        if WORD.search(match.group(2)):
            found.append(Unmarked(path, line, match.group(2), f"{match.group(1)} attribute"))
    for match in BUTTON_VALUE.finditer(markup):
        if WORD.search(match.group(1)):
            found.append(Unmarked(path, line, match.group(1), "button value"))


def _files(packages: Iterable[str], suffix: str) -> Iterator[Path]:
    for package in packages:
        for path in sorted((ROOT / package).rglob(f"*{suffix}")):
            if SKIP_DIRS.isdisjoint(path.relative_to(ROOT).parts):
                yield path


def scan(packages: Iterable[str] = SCANNED_PACKAGES) -> list[Unmarked]:
    """Everything unmarked in the packages' Python modules and templates."""
    packages = tuple(packages)
    found: list[Unmarked] = []
    for path in _files(packages, ".py"):
        found.extend(scan_python(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))))
    for path in _files(packages, ".html"):
        found.extend(scan_template(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))))
    return found


def main() -> int:
    import django

    sys.path.insert(0, str(ROOT))
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    django.setup()
    found = scan()
    for item in found:
        print(item)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
