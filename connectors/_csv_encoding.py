"""Decide a text file's encoding and give DuckDB a UTF-8 file, never silent mojibake.

Why: DuckDB reads UTF-8 fast and flags undecodable lines itself (with line numbers), so the
connector always hands it UTF-8. A file in another encoding (named by the user, announced by
a BOM, or detected) is transcoded once, in large chunks (C speed, not per row), to a temporary
UTF-8 copy; a byte that is undecodable in that encoding is written as an invalid UTF-8 byte
(0xFF) so that DuckDB rejects exactly that line with its number instead of guessing.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

CHUNK = 8 << 20

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
#: Well-formed multi-byte UTF-8 sequences (a file holding some is UTF-8, maybe with bad lines).
_UTF8_MULTI = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_HIGH = re.compile(rb"[\x80-\xff]")


def _mark_bad(exc: UnicodeError) -> tuple[str, int]:
    """Error handler: each undecodable byte becomes a lone surrogate written back as 0xFF."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "\udcff" * (exc.end - exc.start), exc.end


codecs.register_error("leadbridge_mark", _mark_bad)


@dataclass(frozen=True)
class Decided:
    """The encoding in use, why, and the UTF-8 file DuckDB should read."""

    encoding: str
    reason: str
    utf8_path: Path


def canonical(name: str) -> str:
    """A Python codec name for ``--encoding``; ConfigError for an unknown one."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ConfigError(f"unknown encoding {name!r} (try utf-8, cp1252, latin-1, utf-16)") from None


def sniff(path: Path) -> tuple[str, str, bool | None]:
    """(encoding, reason, has CR) without reading the file into memory.

    The third item says whether the file holds a carriage return, learned on the same pass
    (``decide`` needs it, and a second full read of a large file is the cost it avoids);
    None when the sniff stopped before reading the whole file (a BOM or UTF-16).

    A BOM decides. Else: valid UTF-8 everywhere -> utf-8. Else, when well-formed multi-byte
    sequences outnumber the stray high bytes, it is UTF-8 with a few bad lines (reported as
    such); otherwise it is a one-byte Windows/Latin encoding: cp1252 when every byte is
    defined there, else latin-1. Mostly-NUL halves without a BOM mean UTF-16.
    """
    with path.open("rb") as fh:
        head = fh.read(4)
        for bom, enc in _BOMS:
            if head.startswith(bom):
                return enc, "byte order mark", None
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        valid_utf8 = True
        multi = high = 0
        cp1252_ok = True
        first = True
        has_cr = False
        while chunk := fh.read(CHUNK):
            has_cr = has_cr or b"\r" in chunk
            if first:
                first = False
                sample = chunk[:4096]
                if len(sample) >= 4 and sample.count(0) * 3 > len(sample):
                    evens, odds = sample[0::2].count(0), sample[1::2].count(0)
                    return ("utf-16-le" if odds > evens else "utf-16-be"), "NUL byte pattern", None
            if valid_utf8:
                try:
                    decoder.decode(chunk)
                    continue
                except UnicodeDecodeError:
                    valid_utf8 = False
            multi += len(_UTF8_MULTI.findall(chunk))
            high += len(_HIGH.findall(chunk))
            if cp1252_ok:
                try:
                    chunk.decode("cp1252")
                except UnicodeDecodeError:
                    cp1252_ok = False
        if valid_utf8:
            try:
                decoder.decode(b"", final=True)
                return "utf-8", "valid UTF-8", has_cr
            except UnicodeDecodeError:
                return "utf-8", "UTF-8 (truncated last character)", has_cr
    if multi * 2 >= high - multi * 2 and multi > 0:
        return "utf-8", "UTF-8 with undecodable bytes on some lines", has_cr
    if cp1252_ok:
        return "cp1252", "not UTF-8; every byte is valid Windows-1252", has_cr
    return "latin-1", "not UTF-8 nor Windows-1252", has_cr


class _Newlines:
    """Rewrite CR LF and lone CR as LF across chunk borders.

    Why: DuckDB stops on a whole file when one line ends differently from the others (a stray
    CR), and line numbers are counted on LF; one newline style makes both exact.
    """

    def __init__(self) -> None:
        self.cr = False

    def feed(self, data: bytes) -> bytes:
        if self.cr:
            data, self.cr = b"\r" + data, False
        if data.endswith(b"\r"):
            data, self.cr = data[:-1], True
        return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

    def end(self) -> bytes:
        return b"\n" if self.cr else b""


def _has_cr(path: Path) -> bool:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            if b"\r" in chunk:
                return True
    return False


def decide(path: Path, given: str | None, workdir: Path) -> Decided:
    """The encoding (given or sniffed) and a UTF-8, LF-only file for DuckDB: the original
    when it is both already, else a rewritten copy in ``workdir``."""
    has_cr: bool | None = None
    if given:
        enc, reason = canonical(given), "given"
        if enc == "utf-8":
            with path.open("rb") as fh:
                if fh.read(3) == codecs.BOM_UTF8:
                    enc = "utf-8-sig"
    else:
        enc, reason, has_cr = sniff(path)
    utf8 = enc in ("utf-8", "utf-8-sig")  # DuckDB skips a UTF-8 BOM itself
    if utf8 and not (_has_cr(path) if has_cr is None else has_cr):
        return Decided(enc, reason, path)
    out = workdir / (path.stem + ".utf8")
    newlines = _Newlines()
    decoder = codecs.getincrementaldecoder(enc)(errors="leadbridge_mark")
    with path.open("rb") as src, out.open("wb") as dst:
        while chunk := src.read(CHUNK):
            if not utf8:
                chunk = decoder.decode(chunk).encode("utf-8", "surrogateescape")
            dst.write(newlines.feed(chunk))
        if not utf8:
            dst.write(newlines.feed(decoder.decode(b"", final=True).encode(
                "utf-8", "surrogateescape")))
        dst.write(newlines.end())
    return Decided(enc, reason, out)
