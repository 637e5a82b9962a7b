"""Windows command-line transforms: carets and empty quotes, case, ``%VAR:~i,n%`` substrings,
PowerShell flag aliases; :func:`deobfuscate_command` undoes them."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from alertlens.evasion.base import EvasionTransform, Site, applies_where, some_of, splice, words

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
WINDOWS_PROGRAMS = words(
    "cmd powershell pwsh certutil mshta rundll32 regsvr32 bitsadmin msiexec wmic vssadmin wbadmin "
    "whoami systeminfo tasklist ipconfig netstat quser net net1 nltest schtasks reg sc cscript "
    "wscript bcdedit"
)
_WINDOWS_EXTENSIONS = (".exe", ".com", ".bat", ".cmd")
_CMD_SWITCHES = frozenset({"/c", "/k", "/r"})  # cmd.exe runs what follows as a command
TOKEN = re.compile(r"\S+")
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


def plain_command(text: str) -> str:
    """What cmd.exe hands the program: carets and empty quote pairs gone, substrings expanded."""
    return _expand_env(text.replace("^", "").replace('""', ""))


def _program(token: str) -> str:
    """Casefolded file name of a program token, without quotes and directories."""
    return token.strip('"').replace("/", "\\").rsplit("\\", 1)[-1].casefold()


def _is_windows_command(text: str) -> bool:
    """A command line whose program is a Windows one (a path with backslashes counts)."""
    tokens = plain_command(text).split()
    if not tokens or tokens[0].startswith("/"):  # /bin/sh, /usr/bin/...: a POSIX shell
        return False
    program = _program(tokens[0])
    return "\\" in tokens[0] or program.endswith(_WINDOWS_EXTENSIONS) or program in WINDOWS_PROGRAMS


def quoted_mask(text: str) -> list[bool]:
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
    return index > 0 and plain_command(tokens[index - 1]).casefold() in _CMD_SWITCHES


def _case_blind(tokens: Sequence[str], index: int) -> bool:
    """Program names and flags: Windows and its tools read them regardless of case."""
    return (
        index == 0 or _follows_cmd_switch(tokens, index) or _SWITCH.match(tokens[index]) is not None
    )


def _letter_runs(text: str, case_blind_only: bool) -> list[tuple[int, int]]:
    """Spans of letter runs that cmd.exe passes on unchanged: unquoted, in unprotected tokens."""
    quoted = quoted_mask(text)
    matches = list(TOKEN.finditer(text))
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


def _caret_sites(role: str, text: str) -> list[int]:
    return _inner_positions(_letter_runs(text, False)) if _is_windows_command(text) else []


def _caret_quote(role: str, text: str, rng: random.Random) -> str:
    """Carets between letters, and empty quote pairs in program names and flags: ``w^h""oami``.

    cmd.exe strips carets before it starts anything. Quotes are dropped by cmd.exe when it looks
    up the program and by the C runtime when a program splits its arguments, but programs that
    parse their own command line (rundll32, mshta) would keep them inside other arguments.
    """
    quotable = set(_inner_positions(_letter_runs(text, True)))
    chosen = some_of(rng, _caret_sites(role, text), 4)
    edits = [(pos, pos, rng.choice(("^", '""')) if pos in quotable else "^") for pos in chosen]
    return splice(text, edits)


def _case_sites(role: str, text: str) -> list[int]:
    """Letters of program names and flags."""
    if not _is_windows_command(text):
        return []
    return [pos for start, end in _letter_runs(text, True) for pos in range(start, end)]


def _case_flip(role: str, text: str, rng: random.Random) -> str:
    """Flip the case of some letters in program names and flags."""
    chosen = some_of(rng, _case_sites(role, text), 3)
    return splice(text, [(pos, pos + 1, text[pos].swapcase()) for pos in chosen])


def _letter_sources() -> dict[str, tuple[str, ...]]:
    """Casefolded letter -> every ``%NAME:~i,1%`` of the standard variables that expands to it."""
    sources: dict[str, list[str]] = {}
    for name, value in WINDOWS_ENV.items():
        for index, char in enumerate(value):
            if char.isalpha():
                sources.setdefault(char.casefold(), []).append(f"%{name}:~{index},1%")
    return {letter: tuple(forms) for letter, forms in sources.items()}


_LETTER_SOURCES = _letter_sources()


def _env_sites(role: str, text: str) -> list[int]:
    """Letters of program names and flags that some standard variable holds (case aside)."""
    return [pos for pos in _case_sites(role, text) if text[pos].casefold() in _LETTER_SOURCES]


def _env_substring(role: str, text: str, rng: random.Random) -> str:
    """Replace some letters with environment-variable substrings that expand to them."""
    chosen = some_of(rng, _env_sites(role, text), 4)
    edits = [(pos, pos + 1, rng.choice(_LETTER_SOURCES[text[pos].casefold()])) for pos in chosen]
    return splice(text, edits)


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
    for token in TOKEN.finditer(text):
        word = plain_command(token.group())
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


def _flag_sites(role: str, text: str) -> list[Site]:
    return _powershell_flags(text) if _is_windows_command(text) else []


def _flag_alias(role: str, text: str, rng: random.Random) -> str:
    """Respell some PowerShell flags: ``-EncodedCommand`` as ``/ec``, ``-nop`` as ``-NoProfile``."""
    flags = _flag_sites(role, text)
    edits = []
    for start, end, full in rng.sample(flags, rng.randint(1, len(flags))):
        spellings = [dash + alias for alias in POWERSHELL_FLAGS[full] for dash in "-/"]
        edits.append((start, end, rng.choice([s for s in spellings if s != text[start:end]])))
    return splice(text, edits)


def deobfuscate_command(text: str) -> str:
    """Undo the command-line transforms: carets, empty quotes, substrings, flag aliases, case."""
    plain = plain_command(text)
    flags = [(start, end, f"-{full}") for start, end, full in _powershell_flags(plain)]
    return splice(plain, flags).casefold()


TRANSFORMS = (
    EvasionTransform(
        "cmd_caret_quote", ("command_line",), applies_where(_caret_sites), _caret_quote
    ),
    EvasionTransform("cmd_case_flip", ("command_line",), applies_where(_case_sites), _case_flip),
    EvasionTransform(
        "cmd_env_substring", ("command_line",), applies_where(_env_sites), _env_substring
    ),
    EvasionTransform("cmd_flag_alias", ("command_line",), applies_where(_flag_sites), _flag_alias),
)
