"""What an uploaded file is, by its first bytes (magic numbers), not by its name or declared type.

A small table for the evidence types accepted today (PDF, PNG, JPEG, plain text); no libmagic.
"""

from __future__ import annotations

from typing import Any

# The evidence a company may upload: extension -> (its content type, the kind its content must
# sniff as). The upload must declare that type; a download is served as that type.
EVIDENCE_TYPES: dict[str, tuple[str, str]] = {
    ".pdf": ("application/pdf", "pdf"),
    ".png": ("image/png", "png"),
    ".jpg": ("image/jpeg", "jpeg"),
    ".jpeg": ("image/jpeg", "jpeg"),
    ".txt": ("text/plain", "text"),
}

# kind -> leading bytes that identify it
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
}
# Formats that are never evidence, whatever their name says (named in the refusal).
EXECUTABLES: dict[bytes, str] = {
    b"MZ": "a Windows executable",
    b"\x7fELF": "an ELF executable",
    b"\xcf\xfa\xed\xfe": "a Mach-O executable",
    b"\xfe\xed\xfa\xcf": "a Mach-O executable",
    b"#!": "a script",
    b"PK\x03\x04": "a ZIP archive",
}
HEAD_BYTES = 8192


def sniff(head: bytes) -> str | None:
    """``pdf``, ``png``, ``jpeg`` or ``text`` (UTF-8, no control bytes but whitespace), else ``None``."""
    for kind, signatures in SIGNATURES.items():
        if head.startswith(signatures):
            return kind
    if any(head.startswith(magic) for magic in EXECUTABLES):
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the head is still text.
        if error.reason != "unexpected end of data" or error.start < len(head) - 3:
            return None
        text = head[: error.start].decode("utf-8")
    if any(ord(char) < 32 and char not in "\t\n\r\f" for char in text):
        return None
    return "text"


def describe(head: bytes) -> str:
    for magic, name in EXECUTABLES.items():
        if head.startswith(magic):
            return name
    return "an unrecognised format"


def read_head(upload: Any) -> bytes:
    """The first bytes of an uploaded file, leaving it rewound."""
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    return head
