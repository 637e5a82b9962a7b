"""Alert-evasion transforms: rewrites an attacker controls that keep a malicious alert malicious.

Each transform edits only normalized fields the attacker controls (command line, URL, query
arguments, user agent) and only in ways the target still reads the same:

* cmd.exe expands ``%VAR:~start,length%`` substrings and strips carets before it starts a
  program, and drops empty quote pairs in program names (as programs do in their flags). An
  attacker who launches through cmd.exe gets these into the command line the EDR records.
* Windows and its tools ignore case in program names and flags; PowerShell accepts flag
  prefixes and aliases, and ``/`` for ``-``.
* Web applications percent-decode paths and query values (some twice, which is what double
  encoding aims at); SQL reads a comment, a tab or a run of spaces as one space.
* Words that carry no attack (filler in a user agent, a made-up job name) and extra benign
  text change nothing.

So a transformed true positive is still a true positive. :func:`deobfuscate_command` and
:func:`decode_url` undo the rewrites; the tests use them as oracles to prove the meaning is kept.
Command-line transforms leave quoted strings, URLs and base64 blobs alone, and edit only Windows
command lines: carets, case and ``%VAR%`` do not mean the same thing to a POSIX shell.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple, TypeVar
from urllib.parse import unquote_plus

from alertlens.alerts.schema import Alert

FieldCheck = Callable[[str, str], bool]  # (field name, text) -> can the rewrite change it
FieldRewrite = Callable[[str, str, random.Random], str]  # (field name, text, rng) -> new text
Edit = tuple[int, int, str]  # replace text[start:end] with the string
Site = tuple[int, int, str]  # a raw span and what it holds (a flag's full name, "gap", "letter")
T = TypeVar("T")


@dataclass(frozen=True)
class EvasionTransform:
    """A named, meaning-preserving rewrite of the attacker-controlled fields ``fields``."""

    name: str
    fields: tuple[str, ...]
    can_rewrite: FieldCheck
    rewrite: FieldRewrite

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("an evasion transform needs a name")
        if not self.fields:
            raise ValueError(f"evasion transform {self.name!r} declares no fields")

    def applies_to(self, alert: Alert) -> bool:
        """True when a declared field is present and this transform can change it."""
        return bool(self._targets(alert))

    def apply(self, alert: Alert, rng: random.Random) -> Alert:
        """A new alert with every applicable declared field rewritten; ``alert`` is untouched."""
        targets = self._targets(alert)
        if not targets:
            raise ValueError(
                f"evasion transform {self.name!r} does not apply to alert {alert.id!r}"
            )
        fields = dict(alert.fields)
        for name in targets:
            fields[name] = self.rewrite(name, str(fields[name]), rng)
        return replace(alert, fields=fields)

    def _targets(self, alert: Alert) -> list[str]:
        return [
            name
            for name in self.fields
            if isinstance(value := alert.fields.get(name), str) and self.can_rewrite(name, value)
        ]


def _words(text: str) -> frozenset[str]:
    """Whitespace-separated word lists read better than one quoted string per word."""
    return frozenset(text.split())


def _splice(text: str, edits: Sequence[Edit]) -> str:
    """Apply non-overlapping (start, end, replacement) edits to ``text``."""
    pieces, last = [], 0
    for start, end, new in sorted(edits):
        pieces += [text[last:start], new]
        last = end
    return "".join(pieces) + text[last:]


def _any(sites: Callable[[str, str], Sequence[object]]) -> FieldCheck:
    """A transform applies where its site finder finds something to rewrite."""
    return lambda field_name, text: bool(sites(field_name, text))


def _some(rng: random.Random, sites: Sequence[T], share: int) -> list[T]:
    """At least one and at most about ``1/share`` of the sites, drawn at random."""
    return rng.sample(list(sites), rng.randint(1, max(1, len(sites) // share)))


# ---- Windows command lines ------------------------------------------------------------------

# Standard values on every Windows install; cmd.exe expands %NAME:~start,length% from them.
WINDOWS_ENV = {
    "COMSPEC": "C:\\Windows\\system32\\cmd.exe",
    "PUBLIC": "C:\\Users\\Public",
    "ProgramData": "C:\\ProgramData",
    "SystemRoot": "C:\\Windows",
    "windir": "C:\\Windows",
}
_ENV = {name.casefold(): value for name, value in WINDOWS_ENV.items()}
# Programs that, first on a command line, mark it as Windows even without a path or extension.
WINDOWS_PROGRAMS = _words(
    "cmd powershell pwsh certutil mshta rundll32 regsvr32 bitsadmin msiexec wmic vssadmin wbadmin "
    "whoami systeminfo tasklist ipconfig netstat quser net net1 nltest schtasks reg sc cscript "
    "wscript bcdedit"
)
_WINDOWS_EXTENSIONS = (".exe", ".com", ".bat", ".cmd")
_CMD_SWITCHES = frozenset({"/c", "/k", "/r"})  # cmd.exe runs what follows as a command
_TOKEN = re.compile(r"\S+")
_LETTERS = re.compile(r"[A-Za-z]+")
_SWITCH = re.compile(r"[-/][A-Za-z]")
_BASE64_TOKEN = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/=]{20,}")
_ENV_SUBSTRING = re.compile(r"%(\w+):~(\d+),(\d+)%")


def _expand_env(text: str) -> str:
    """Expand ``%NAME:~start,length%`` of the standard variables, as cmd.exe does."""

    def expand(match: re.Match[str]) -> str:
        value = _ENV.get(match.group(1).casefold())
        if value is None:
            return match.group()
        start = int(match.group(2))
        return value[start : start + int(match.group(3))]

    return _ENV_SUBSTRING.sub(expand, text)


def _plain_command(text: str) -> str:
    """What cmd.exe hands the program: carets and empty quote pairs gone, substrings expanded."""
    return _expand_env(text.replace("^", "").replace('""', ""))


def _program(token: str) -> str:
    """Casefolded file name of a program token, without quotes and directories."""
    return token.strip('"').replace("/", "\\").rsplit("\\", 1)[-1].casefold()


def _is_windows_command(text: str) -> bool:
    """A command line whose program is a Windows one (a path with backslashes counts)."""
    tokens = _plain_command(text).split()
    if not tokens or tokens[0].startswith("/"):  # /bin/sh, /usr/bin/...: a POSIX shell
        return False
    program = _program(tokens[0])
    return "\\" in tokens[0] or program.endswith(_WINDOWS_EXTENSIONS) or program in WINDOWS_PROGRAMS


def _quoted(text: str) -> list[bool]:
    """Per character: inside a double-quoted string, quotes included (cmd.exe toggles on each)."""
    mask, inside = [], False
    for char in text:
        if char == '"':
            inside = not inside
            mask.append(True)
        else:
            mask.append(inside)
    return mask


def _protected(token: str) -> bool:
    """URLs, base64 blobs and variable references: obfuscating inside them changes the payload."""
    if "://" in token or "%" in token or "!" in token or _BASE64_TOKEN.fullmatch(token):
        return True
    # Long letter-only runs are words (WindowsPowerShell); base64 embedded in code has digits.
    return any(not run.isalpha() for run in _BASE64_RUN.findall(token))


def _follows_cmd_switch(tokens: Sequence[str], index: int) -> bool:
    """The token right after cmd.exe's /c (or /k, /r), however that switch is spelled."""
    return index > 0 and _plain_command(tokens[index - 1]).casefold() in _CMD_SWITCHES


def _case_blind(tokens: Sequence[str], index: int) -> bool:
    """Program names and flags: Windows and its tools read them regardless of case."""
    return (
        index == 0 or _follows_cmd_switch(tokens, index) or _SWITCH.match(tokens[index]) is not None
    )


def _letter_runs(text: str, case_blind_only: bool) -> list[tuple[int, int]]:
    """Spans of letter runs that cmd.exe passes on unchanged: unquoted, in unprotected tokens."""
    quoted = _quoted(text)
    matches = list(_TOKEN.finditer(text))
    tokens = [match.group() for match in matches]
    runs = []
    for index, match in enumerate(matches):
        if _follows_cmd_switch(tokens, index) and tokens[index][:1] == '"':
            break  # cmd /c "...": cmd.exe drops the outer quotes, so inner quoting is not the mask's
        if (
            '"' in tokens[index].replace('""', "")
            or _protected(tokens[index])
            or (case_blind_only and not _case_blind(tokens, index))
        ):
            continue
        for run in _LETTERS.finditer(text, match.start(), match.end()):
            if not any(quoted[run.start() : run.end()]):
                runs.append((run.start(), run.end()))
    return runs


def _inner_positions(runs: Sequence[tuple[int, int]]) -> list[int]:
    """Positions between two letters of the runs."""
    return [pos for start, end in runs for pos in range(start + 1, end)]


def _caret_sites(field_name: str, text: str) -> list[int]:
    return _inner_positions(_letter_runs(text, False)) if _is_windows_command(text) else []


def _caret_quote(field_name: str, text: str, rng: random.Random) -> str:
    """Carets between letters, and empty quote pairs in program names and flags: ``w^h""oami``.

    cmd.exe strips carets before it starts anything. Quotes are dropped by cmd.exe when it looks
    up the program and by the C runtime when a program splits its arguments, but programs that
    parse their own command line (rundll32, mshta) would keep them inside other arguments.
    """
    quotable = set(_inner_positions(_letter_runs(text, True)))
    chosen = _some(rng, _caret_sites(field_name, text), 4)
    edits = [(pos, pos, rng.choice(("^", '""')) if pos in quotable else "^") for pos in chosen]
    return _splice(text, edits)


def _case_sites(field_name: str, text: str) -> list[int]:
    """Letters of program names and flags."""
    if not _is_windows_command(text):
        return []
    return [pos for start, end in _letter_runs(text, True) for pos in range(start, end)]


def _case_flip(field_name: str, text: str, rng: random.Random) -> str:
    """Flip the case of some letters in program names and flags."""
    chosen = _some(rng, _case_sites(field_name, text), 3)
    return _splice(text, [(pos, pos + 1, text[pos].swapcase()) for pos in chosen])


def _letter_sources() -> dict[str, tuple[str, ...]]:
    """Casefolded letter -> every ``%NAME:~i,1%`` of the standard variables that expands to it."""
    sources: dict[str, list[str]] = {}
    for name, value in WINDOWS_ENV.items():
        for index, char in enumerate(value):
            if char.isalpha():
                sources.setdefault(char.casefold(), []).append(f"%{name}:~{index},1%")
    return {letter: tuple(forms) for letter, forms in sources.items()}


_LETTER_SOURCES = _letter_sources()


def _env_sites(field_name: str, text: str) -> list[int]:
    """Letters of program names and flags that some standard variable holds (case aside)."""
    return [pos for pos in _case_sites(field_name, text) if text[pos].casefold() in _LETTER_SOURCES]


def _env_substring(field_name: str, text: str, rng: random.Random) -> str:
    """Replace some letters with environment-variable substrings that expand to them."""
    chosen = _some(rng, _env_sites(field_name, text), 4)
    edits = [(pos, pos + 1, rng.choice(_LETTER_SOURCES[text[pos].casefold()])) for pos in chosen]
    return _splice(text, edits)


# PowerShell flag -> spellings powershell.exe accepts (unambiguous prefixes and aliases).
POWERSHELL_FLAGS: dict[str, tuple[str, ...]] = {
    "EncodedCommand": ("EncodedCommand", "enc", "en", "e", "ec"),
    "ExecutionPolicy": ("ExecutionPolicy", "ep", "exec", "ex"),
    "NoProfile": ("NoProfile", "nop", "NoP"),
    "WindowStyle": ("WindowStyle", "w", "win"),
    "NonInteractive": ("NonInteractive", "noni"),
    "Command": ("Command", "c"),
}
_FLAG_NAMES = {
    alias.casefold(): full for full, aliases in POWERSHELL_FLAGS.items() for alias in aliases
}
_POWERSHELL = frozenset({"powershell", "powershell.exe", "pwsh", "pwsh.exe"})
_FLAG = re.compile(r"[-/]([A-Za-z]+)")
# After these, the rest of the line is the script (or its file and arguments), not our flags.
_LAST_FLAGS = frozenset({"command", "encodedcommand", "file", "f"})


def _powershell_flags(text: str) -> list[Site]:
    """(start, end, full name) of powershell.exe's own flags, up to the script it runs."""
    flags: list[Site] = []
    started = False
    for token in _TOKEN.finditer(text):
        word = _plain_command(token.group())
        if not started:
            started = _program(word) in _POWERSHELL
            continue
        match = _FLAG.fullmatch(word)
        if match is None:
            continue
        full = _FLAG_NAMES.get(match.group(1).casefold())
        if full is not None:
            flags.append((token.start(), token.end(), full))
        if (full or match.group(1)).casefold() in _LAST_FLAGS:
            break
    return flags


def _flag_sites(field_name: str, text: str) -> list[Site]:
    return _powershell_flags(text) if _is_windows_command(text) else []


def _flag_alias(field_name: str, text: str, rng: random.Random) -> str:
    """Respell some PowerShell flags: ``-EncodedCommand`` as ``/ec``, ``-nop`` as ``-NoProfile``."""
    flags = _flag_sites(field_name, text)
    edits = []
    for start, end, full in rng.sample(flags, rng.randint(1, len(flags))):
        spellings = [dash + alias for alias in POWERSHELL_FLAGS[full] for dash in "-/"]
        edits.append((start, end, rng.choice([s for s in spellings if s != text[start:end]])))
    return _splice(text, edits)


def deobfuscate_command(text: str) -> str:
    """Undo the command-line transforms: carets, empty quotes, substrings, flag aliases, case."""
    plain = _plain_command(text)
    flags = [(start, end, f"-{full}") for start, end, full in _powershell_flags(plain)]
    return _splice(plain, flags).casefold()


# ---- URLs and query arguments ---------------------------------------------------------------

URL_FIELDS = ("url", "query_args")
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# Characters that structure a path or a query value: encoding them changes what is parsed.
_PATH_SYNTAX = frozenset("/?#%+;")
_VALUE_SYNTAX = frozenset("=#%")  # '&' ends a value and a raw '+' is a space: never literals


class _Segment(NamedTuple):
    """A span of a URL field where a payload lives; ``query`` when it is a query value."""

    start: int
    end: int
    query: bool


class _Unit(NamedTuple):
    """One decoded character of a segment and the raw span (a literal or a %XX escape) it has."""

    start: int
    end: int
    char: str


def _segments(field_name: str, text: str) -> list[_Segment]:
    """The path after any scheme and host, then every query value (names are left alone)."""
    segments: list[_Segment] = []
    query_start = 0
    if field_name != "query_args":
        origin = _ORIGIN.match(text)
        start = origin.end() if origin else 0
        mark = text.find("?", start)
        path_end = len(text) if mark < 0 else mark
        if path_end > start:
            segments.append(_Segment(start, path_end, False))
        if mark < 0:
            return segments
        query_start = mark + 1
    offset = query_start
    for piece in text[query_start:].split("&"):
        name, equals, value = piece.partition("=")
        if equals and value:
            segments.append(_Segment(offset + len(name) + 1, offset + len(piece), True))
        offset += len(piece) + 1
    return segments


def _units(text: str, segment: _Segment) -> list[_Unit]:
    """The segment as the server decodes it once: %XX escapes, and '+' as a space in a query."""
    units, pos = [], segment.start
    while pos < segment.end:
        if _ESCAPE.match(text, pos, segment.end):
            units.append(_Unit(pos, pos + 3, chr(int(text[pos + 1 : pos + 3], 16))))
            pos += 3
        else:
            char = " " if segment.query and text[pos] == "+" else text[pos]
            units.append(_Unit(pos, pos + 1, char))
            pos += 1
    return units


def _percent(char: str, rng: random.Random) -> str:
    """%XX escapes of a character's UTF-8 bytes, hex digits in either case (servers accept both)."""
    escaped = "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return escaped.lower() if rng.random() < 0.5 else escaped


def _encodable(field_name: str, text: str) -> list[_Unit]:
    """Literal payload punctuation that a server decodes the same from a %XX escape."""
    found = []
    for segment in _segments(field_name, text):
        syntax = _VALUE_SYNTAX if segment.query else _PATH_SYNTAX
        found += [
            unit
            for unit in _units(text, segment)
            if text[unit.start : unit.end] == unit.char
            and not unit.char.isalnum()
            and unit.char not in syntax
        ]
    return found


def _url_encode(field_name: str, text: str, rng: random.Random) -> str:
    """Percent-encode some payload characters of the path and query values."""
    units = _encodable(field_name, text)
    chosen = rng.sample(units, rng.randint(1, len(units)))
    return _splice(text, [(unit.start, unit.end, _percent(unit.char, rng)) for unit in chosen])


def _double_sites(field_name: str, text: str) -> list[_Unit]:
    """Encodable literals and the existing %XX escapes, each of which can be encoded twice."""
    escapes = [
        unit
        for segment in _segments(field_name, text)
        for unit in _units(text, segment)
        if unit.end - unit.start == 3
    ]
    return _encodable(field_name, text) + escapes


def _double_url_encode(field_name: str, text: str, rng: random.Random) -> str:
    """Encode some payload characters twice (``'`` as ``%2527``) for a backend that decodes twice."""
    units = _double_sites(field_name, text)
    edits = []
    for unit in rng.sample(units, rng.randint(1, len(units))):
        raw = text[unit.start : unit.end]
        once = raw if raw != unit.char else _percent(unit.char, rng)
        edits.append((unit.start, unit.end, once.replace("%", "%25")))
    return _splice(text, edits)


# Keywords and functions SQL reads regardless of case (identifiers such as table names may not).
SQL_KEYWORDS = _words(
    "union select from where and or not all null order by group having limit offset like sleep "
    "waitfor delay benchmark convert cast concat extractvalue updatexml version int char ascii "
    "substring exec execute insert into values update set delete drop case when then else end "
    "is as distinct"
)
_SQL_STRONG = re.compile(
    r"\bunion\b.*\bselect\b|\b(?:sleep|benchmark|extractvalue|updatexml)\s*\(|\bwaitfor\s+delay\b",
    re.IGNORECASE | re.DOTALL,
)
_SQL_WEAK = re.compile(r"\b(?:select|or|and)\b", re.IGNORECASE)
_SQL_SYNTAX = re.compile(r"'|--|=|\(|@@|;|#")
_SQL_GAP = re.compile(r"(?:\s|/\*.*?\*/)+", re.DOTALL)
_SQL_WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z_]+(?![A-Za-z0-9_])")
# Raw query text SQL reads as one space once the application has decoded it.
SQL_SPACES = ("/**/", "%09", "%0A", "+", "++", "%20%20", "/**/+")


def _is_sqli(text: str) -> bool:
    """Decoded text that reads as an SQL injection (not just SQL words in a search)."""
    return bool(_SQL_STRONG.search(text) or (_SQL_WEAK.search(text) and _SQL_SYNTAX.search(text)))


def _sql_code(decoded: str) -> str:
    """The injected SQL before its first comment: after ``--`` or ``#`` whitespace is meaningful."""
    ends = [pos for pos in (decoded.find("--"), decoded.find("#")) if pos >= 0]
    return decoded[: min(ends, default=len(decoded))]


def _has_keyword(word: str) -> bool:
    return any(match.group().casefold() in SQL_KEYWORDS for match in _SQL_WORD.finditer(word))


def _gap_sites(code: str, units: Sequence[_Unit]) -> list[Site]:
    """Raw spans of whitespace or comments between two words, one of them an SQL keyword."""
    gaps = list(_SQL_GAP.finditer(code))
    sites: list[Site] = []
    for index, gap in enumerate(gaps):
        left = code[gaps[index - 1].end() if index else 0 : gap.start()]
        right = code[gap.end() : gaps[index + 1].start() if index + 1 < len(gaps) else len(code)]
        if left and right and (_has_keyword(left) or _has_keyword(right)):
            sites.append((units[gap.start()].start, units[gap.end() - 1].end, "gap"))
    return sites


def _keyword_letters(code: str, units: Sequence[_Unit]) -> list[Site]:
    """Raw spans of the literal letters of SQL keywords."""
    return [
        (units[pos].start, units[pos].end, "letter")
        for match in _SQL_WORD.finditer(code)
        if match.group().casefold() in SQL_KEYWORDS
        for pos in range(match.start(), match.end())
        if units[pos].end - units[pos].start == 1
    ]


def _sql_sites(field_name: str, text: str) -> list[Site]:
    """(start, end, "gap" or "letter") sites in the query values that carry an SQL injection."""
    sites: list[Site] = []
    for segment in _segments(field_name, text):
        if not segment.query:
            continue
        units = _units(text, segment)
        decoded = "".join(unit.char for unit in units)
        if _is_sqli(decoded):
            code = _sql_code(decoded)
            sites += _gap_sites(code, units) + _keyword_letters(code, units)
    return sites


def _sql_comment_whitespace(field_name: str, text: str, rng: random.Random) -> str:
    """Respell spaces around SQL keywords (``/**/``, tab, ``+``...) and mix keyword case."""
    sites = _sql_sites(field_name, text)
    chosen = [site for site in sites if rng.random() < 0.4] or [rng.choice(sites)]
    edits = []
    for start, end, kind in chosen:
        if kind == "letter":
            edits.append((start, end, text[start].swapcase()))
        else:
            edits.append((start, end, rng.choice([s for s in SQL_SPACES if s != text[start:end]])))
    return _splice(text, edits)


_SQL_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_WHITESPACE = re.compile(r"\s+")


def decode_url(text: str) -> str:
    """Undo the URL transforms: decode until stable, comments and whitespace to one space, casefold."""
    decoded, previous = text, None
    while decoded != previous:
        previous, decoded = decoded, unquote_plus(decoded)
    return _WHITESPACE.sub(" ", _SQL_COMMENT.sub(" ", decoded)).casefold()


# ---- filler words and benign padding --------------------------------------------------------

# Words that carry an attack: programs and their verbs, shell and script words, exploit strings.
PROTECTED_WORDS = _words(
    """
    powershell pwsh certutil mshta bitsadmin msiexec wmic vssadmin wbadmin bcdedit cscript
    wscript schtasks whoami systeminfo tasklist taskkill ipconfig netstat quser nltest dsquery
    hostname echo start call copy move type attrib icacls takeown curl wget tftp nslookup ping
    finger installutil regasm regsvcs msbuild cmstp odbcconf forfiles pcalua expand esentutl
    diskshadow ntdsutil procdump minidump comsvcs lsass mimikatz sekurlsa logonpasswords psexec
    user users group localgroup administrators admins domain delete create list resize shadow
    shadows shadowcopy shadowstorage systemstatebackup catalog full transfer download upload
    priority high hidden bypass unrestricted minimized quiet query config stop import export
    save dump decode encode urlcache split bash dash python perl ruby ncat netcat socat telnet
    chmod chown uname passwd sudo find perm crontab exec eval ifconfig kill nohup jndi ldap
    ldaps iiop corba http https lower upper script alert prompt confirm onerror onload
    javascript vbscript document cookie iframe invoke expression webclient downloadstring
    downloadfile encodedcommand executionpolicy windowstyle noprofile noninteractive union
    select sleep waitfor benchmark sqlmap nmap nikto masscan hydra metasploit meterpreter
    cobalt strike beacon sliver
    """
)
_FILLER = re.compile(r"[A-Za-z]{4,24}")
# Flags whose value is a name the attacker picks and nothing else on the line refers to
# (bitsadmin job, scheduled task): every other command-line word is something a program acts on.
_FREE_NAME_FLAGS = frozenset({"/transfer", "/create", "/tn"})


def _free_name(tokens: Sequence[re.Match[str]], index: int, quoted: Sequence[bool]) -> bool:
    """An unquoted command-line token that names a job or task the attacker made up."""
    return (
        index > 0
        and _plain_command(tokens[index - 1].group()).casefold() in _FREE_NAME_FLAGS
        and not quoted[tokens[index].start()]
    )


def _filler_words(field_name: str, text: str) -> list[tuple[int, int]]:
    """Spans of whole tokens of 4-24 letters that carry no attack, no SQL and no command."""
    if _is_sqli(unquote_plus(text)):  # in an injection, even plain words are identifiers
        return []
    tokens = list(_TOKEN.finditer(text))
    quoted = _quoted(text)
    return [
        (token.start(), token.end())
        for index, token in enumerate(tokens)
        if _FILLER.fullmatch(token.group())
        and token.group().casefold() not in PROTECTED_WORDS
        and (field_name != "command_line" or _free_name(tokens, index, quoted))
    ]


def _edit_word(word: str, rng: random.Random) -> str:
    """Swap two different adjacent letters, insert a letter or delete one."""
    swaps = [pos for pos in range(len(word) - 1) if word[pos] != word[pos + 1]]
    operation = rng.choice(("swap", "insert", "delete") if swaps else ("insert", "delete"))
    if operation == "swap":
        pos = rng.choice(swaps)
        return word[:pos] + word[pos + 1] + word[pos] + word[pos + 2 :]
    pos = rng.randrange(len(word))
    if operation == "delete":
        return word[:pos] + word[pos + 1 :]
    return word[:pos] + rng.choice(string.ascii_lowercase) + word[pos:]


def _char_edit(field_name: str, text: str, rng: random.Random) -> str:
    """A typo-like edit in one filler word."""
    start, end = rng.choice(_filler_words(field_name, text))
    return _splice(text, [(start, end, _edit_word(text[start:end], rng))])


BROWSER_PADDING = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
)
BENIGN_PARAMS = (
    ("utm_source", "newsletter"),
    ("utm_medium", "email"),
    ("utm_campaign", "spring"),
    ("lang", "en"),
    ("page", "2"),
    ("ref", "home"),
)


def _free_params(text: str) -> list[tuple[str, str]]:
    """Benign parameters the query lacks: a repeated name could override the payload's value."""
    present = {unquote_plus(piece.partition("=")[0]).casefold() for piece in text.split("&")}
    return [param for param in BENIGN_PARAMS if param[0] not in present]


def _can_pad(field_name: str, text: str) -> bool:
    return field_name == "user_agent" or bool(_free_params(text))


def _benign_padding(field_name: str, text: str, rng: random.Random) -> str:
    """A browser user agent around the original one, or harmless parameters after the query."""
    if field_name == "user_agent":
        padding = rng.choice(BROWSER_PADDING)
        parts = (padding, text) if rng.random() < 0.5 else (text, padding)
        return " ".join(part for part in parts if part)
    params = _free_params(text)
    chosen = rng.sample(params, rng.randint(1, min(3, len(params))))
    extra = "&".join(f"{name}={value}" for name, value in chosen)
    return f"{text}&{extra}" if text else extra


# ---- the registry ---------------------------------------------------------------------------

TRANSFORMS: dict[str, EvasionTransform] = {
    transform.name: transform
    for transform in (
        EvasionTransform("cmd_caret_quote", ("command_line",), _any(_caret_sites), _caret_quote),
        EvasionTransform("cmd_case_flip", ("command_line",), _any(_case_sites), _case_flip),
        EvasionTransform("cmd_env_substring", ("command_line",), _any(_env_sites), _env_substring),
        EvasionTransform("cmd_flag_alias", ("command_line",), _any(_flag_sites), _flag_alias),
        EvasionTransform("url_encode", URL_FIELDS, _any(_encodable), _url_encode),
        EvasionTransform("double_url_encode", URL_FIELDS, _any(_double_sites), _double_url_encode),
        EvasionTransform(
            "sql_comment_whitespace", URL_FIELDS, _any(_sql_sites), _sql_comment_whitespace
        ),
        EvasionTransform(
            "char_edit",
            ("user_agent", "query_args", "url", "command_line"),
            _any(_filler_words),
            _char_edit,
        ),
        EvasionTransform("benign_padding", ("user_agent", "query_args"), _can_pad, _benign_padding),
    )
}


def transforms_by_name(names: Sequence[str]) -> list[EvasionTransform]:
    """The registered transforms called ``names``, in that order."""
    unknown = [name for name in names if name not in TRANSFORMS]
    if unknown:
        raise ValueError(
            f"unknown evasion transform(s): {', '.join(unknown)}; known: {', '.join(TRANSFORMS)}"
        )
    return [TRANSFORMS[name] for name in names]
