"""Pure parsers that turn one alert field (a URL, a command line, any text) into numbers.

IP addresses are parsed in ``alertlens.alerts.addresses``, which the rendering shares.

Each multi-output parser returns a NamedTuple whose field names are the column suffixes the
feature spec publishes, so the order of values and the order of columns have one source of truth.
Numbers are floats (the surrogate reads float64); flags are 1.0 / 0.0.
"""

from __future__ import annotations

import binascii
import re
from collections import Counter
from math import log2, nan
from typing import NamedTuple

import numpy as np

from alertlens.alerts.addresses import parse_ip

# Categorical value for "present but empty" (no extension, empty command line): a visible,
# distinct category, unlike None, which means the field itself was missing.
NO_VALUE = "(none)"


class UrlFeatures(NamedTuple):
    """Structure of a URL; field names are the column suffixes of a ``url`` feature."""

    path_depth: float
    path_length: float
    query_length: float
    n_params: float
    extension: str
    pct_encoded: float
    double_encoded: float
    host_is_ip: float


class CommandLineFeatures(NamedTuple):
    """Shape of a command line; field names are the column suffixes of ``command_line``."""

    executable: str
    n_args: float
    has_encoded_flag: float
    has_url: float
    n_obfuscation_chars: float


class TextStats(NamedTuple):
    """Character statistics of a text; field names are the column suffixes of ``text_stats``."""

    length: float
    entropy: float
    upper_ratio: float
    digit_ratio: float
    special_ratio: float
    longest_base64_run: float
    has_base64: float
    hex_run: float
    url_encoded_count: float


_PCT_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")
_DOUBLE_ENCODED = re.compile(r"%25[0-9A-Fa-f]{2}")


def count_percent_encoded(text: str) -> int:
    """Number of ``%xx`` escapes in the text."""
    return len(_PCT_ENCODED.findall(text)) if "%" in text else 0


def _url_host_is_ip(host: str) -> float:
    host = host.rpartition("@")[2]  # drop user:password@
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return 0.0 if parse_ip(host).version == 0 else 1.0


def _extension(segment: str) -> str:
    stem, dot, ext = segment.partition(";")[0].rpartition(".")
    if dot and stem and ext.isascii() and ext.isalnum() and len(ext) <= 10:
        return ext.lower()
    return NO_VALUE


def url_features(url: str) -> UrlFeatures:
    """Path depth, lengths, parameters, extension, encoding and IP host of a URL or bare path.

    A URL without a scheme is read as a path; its host flag is NaN (unknown), not 0.
    """
    text = url.strip()
    rest = text.partition("#")[0]
    rest, _, query = rest.partition("?")
    host: str | None = None
    scheme, sep, after = rest.partition("://")
    if sep and scheme.isascii() and scheme.isalpha():
        host, slash, path = after.partition("/")
        path = slash + path
    elif rest.startswith("//"):
        host, slash, path = rest[2:].partition("/")
        path = slash + path
    else:
        path = rest
    return UrlFeatures(
        path_depth=float(sum(1 for segment in path.split("/") if segment)),
        path_length=float(len(path)),
        query_length=float(len(query)),
        n_params=float(sum(1 for param in query.split("&") if param)),
        extension=_extension(path.rpartition("/")[2]),
        pct_encoded=float(count_percent_encoded(text)),
        double_encoded=1.0 if "%25" in text and _DOUBLE_ENCODED.search(text) else 0.0,
        host_is_ip=_url_host_is_ip(host) if host else nan,
    )


# A token is a run of quoted strings and unquoted non-space characters, as shells group them.
_TOKEN = re.compile(r"""(?:"[^"]*"|'[^']*'|[^\s"']+)+""")
_URL_SCHEME = re.compile(r"\b[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# PowerShell accepts any unambiguous prefix of -EncodedCommand (and the alias -ec), introduced by
# "-", "/" or a Unicode dash; attackers use the short forms precisely because they evade exact
# string matches.
_ENCODED_FLAG_NAMES = frozenset({"encodedcommand"[:n] for n in range(1, 15)} | {"ec"})
_FLAG_PREFIXES = frozenset("-/\u2013\u2014\u2015")
_QUOTED_FLAG_PREFIXES = _FLAG_PREFIXES | {'"', "'"}


def split_command_line(command_line: str) -> list[str]:
    """Split a command line into tokens, keeping quoted parts together (quotes kept)."""
    if '"' in command_line or "'" in command_line:
        return _TOKEN.findall(command_line)
    return command_line.split()


def is_encoded_flag(arg: str) -> bool:
    """True for -e, -en, ..., -EncodedCommand, -ec, /enc (any case)."""
    arg = arg.strip("\"'").lower()
    return len(arg) >= 2 and arg[0] in _FLAG_PREFIXES and arg[1:] in _ENCODED_FLAG_NAMES


def _has_encoded_flag(args: list[str]) -> bool:
    # The first-character test skips most arguments (paths, payloads) without a function call.
    return any(arg[0] in _QUOTED_FLAG_PREFIXES and is_encoded_flag(arg) for arg in args)


def executable_name(token: str) -> str:
    """Lowercased basename of a (possibly quoted, Windows or POSIX) program path."""
    path = token.replace('"', "").replace("'", "").replace("\\", "/")
    return path.rpartition("/")[2].lower() or NO_VALUE


def command_line_features(command_line: str) -> CommandLineFeatures:
    """Executable, argument count, encoded-command flag, URL presence and obfuscation chars."""
    tokens = split_command_line(command_line)
    args = tokens[1:]
    return CommandLineFeatures(
        executable=executable_name(tokens[0]) if tokens else NO_VALUE,
        n_args=float(len(args)),
        has_encoded_flag=1.0 if _has_encoded_flag(args) else 0.0,
        has_url=1.0 if "://" in command_line and _URL_SCHEME.search(command_line) else 0.0,
        n_obfuscation_chars=float(
            command_line.count("^") + command_line.count("`") + command_line.count('""')
        ),
    )


# c * log2(c) for c = 0..4096: ASCII entropy becomes one bincount and one table lookup.
_C_LOG2_C = np.array([0.0] + [c * log2(c) for c in range(1, 4097)])


def shannon_entropy(text: str) -> float:
    """Shannon entropy of the character distribution, in bits per character."""
    n = len(text)
    if n == 0:
        return 0.0
    if n < len(_C_LOG2_C) and text.isascii():
        # One vectorized count instead of a Python dict per character; exact for ASCII.
        counts = np.bincount(np.frombuffer(text.encode("ascii"), dtype=np.uint8))
        total = float(_C_LOG2_C[counts].sum())
    else:
        total = sum(c * log2(c) for c in Counter(text).values())
    return log2(n) - total / n


def _keep_only(alphabet: bytes) -> bytes:
    """A bytes.translate table that maps every byte outside the alphabet to a space."""
    return bytes(b if b in alphabet else 0x20 for b in range(256))


_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = b"0123456789"
_ALNUM_SPACE = _UPPER + _UPPER.lower() + _DIGITS + b" \t\n\r\x0b\x0c"
_BASE64_RUNS = _keep_only(_UPPER + _UPPER.lower() + _DIGITS + b"+/=")
_HEX_RUNS = _keep_only(_DIGITS + b"abcdefABCDEF")
# Base64 body plus at most two trailing pads: the part of a run that could decode on its own
# (a run like "data=SGVsbG8=" contains "=" in the middle, which strict decoding rejects).
_BASE64_CANDIDATE = re.compile(rb"[A-Za-z0-9+/]{20,}={0,2}")
_MIN_BASE64_RUN = 20


def _longest_run(data: bytes, table: bytes) -> int:
    return max(map(len, data.translate(table).split()), default=0)


def _has_base64(data: bytes) -> bool:
    for candidate in _BASE64_CANDIDATE.findall(data):
        try:
            binascii.a2b_base64(candidate, strict_mode=True)
        except binascii.Error:
            continue
        return True
    return False


def text_stats(text: str) -> TextStats:
    """Length, entropy, character-class ratios, base64/hex runs and %xx count of a text.

    Ratios count ASCII classes; a non-ASCII character counts as special.
    """
    # "replace" maps each non-ASCII character to one "?", so byte counts equal character counts
    # and the class counts run as C-level bytes.translate instead of a Python loop.
    data = text.encode("ascii", "replace")
    n = len(data)
    denominator = n or 1
    longest_base64 = _longest_run(data, _BASE64_RUNS)
    return TextStats(
        length=float(n),
        entropy=shannon_entropy(text),
        upper_ratio=(n - len(data.translate(None, _UPPER))) / denominator,
        digit_ratio=(n - len(data.translate(None, _DIGITS))) / denominator,
        special_ratio=len(data.translate(None, _ALNUM_SPACE)) / denominator,
        longest_base64_run=float(longest_base64),
        has_base64=1.0 if longest_base64 >= _MIN_BASE64_RUN and _has_base64(data) else 0.0,
        hex_run=float(_longest_run(data, _HEX_RUNS)),
        url_encoded_count=float(count_percent_encoded(text)),
    )
