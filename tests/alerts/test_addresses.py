"""IP addresses: parsing, scope and named-network membership, with concrete values."""

import pytest

from alertlens.alerts.addresses import in_networks, ip_scope, parse_ip, parse_network


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
