"""Transforms of words that carry no attack: typo-like edits of filler words, benign padding."""

from __future__ import annotations

import random
import re
import string
from collections.abc import Sequence
from urllib.parse import unquote_plus

from alertlens.evasion.base import EvasionTransform, applies_where, splice, words
from alertlens.evasion.command_line import TOKEN, plain_command, quoted_mask
from alertlens.evasion.sql import is_sqli

# Words that carry an attack: programs and their verbs, shell and script words, exploit strings.
PROTECTED_WORDS = words(
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
        and plain_command(tokens[index - 1].group()).casefold() in _FREE_NAME_FLAGS
        and not quoted[tokens[index].start()]
    )


def _filler_words(role: str, text: str) -> list[tuple[int, int]]:
    """Spans of whole tokens of 4-24 letters that carry no attack, no SQL and no command."""
    if is_sqli(unquote_plus(text)):  # in an injection, even plain words are identifiers
        return []
    tokens = list(TOKEN.finditer(text))
    quoted = quoted_mask(text)
    return [
        (token.start(), token.end())
        for index, token in enumerate(tokens)
        if _FILLER.fullmatch(token.group())
        and token.group().casefold() not in PROTECTED_WORDS
        and (role != "command_line" or _free_name(tokens, index, quoted))
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


def _char_edit(role: str, text: str, rng: random.Random) -> str:
    """A typo-like edit in one filler word."""
    start, end = rng.choice(_filler_words(role, text))
    return splice(text, [(start, end, _edit_word(text[start:end], rng))])


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


def _can_pad(role: str, text: str) -> bool:
    return role == "user_agent" or bool(_free_params(text))


def _benign_padding(role: str, text: str, rng: random.Random) -> str:
    """A browser user agent around the original one, or harmless parameters after the query."""
    if role == "user_agent":
        padding = rng.choice(BROWSER_PADDING)
        parts = (padding, text) if rng.random() < 0.5 else (text, padding)
        return " ".join(part for part in parts if part)
    params = _free_params(text)
    chosen = rng.sample(params, rng.randint(1, min(3, len(params))))
    extra = "&".join(f"{name}={value}" for name, value in chosen)
    return f"{text}&{extra}" if text else extra


TRANSFORMS = (
    EvasionTransform(
        "char_edit",
        ("user_agent", "query", "url", "command_line"),
        applies_where(_filler_words),
        _char_edit,
    ),
    EvasionTransform("benign_padding", ("user_agent", "query"), _can_pad, _benign_padding),
)
