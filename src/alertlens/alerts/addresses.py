"""IP addresses as integers: parsing, scope (private, public, ...) and named-network membership.

Shared by the ip features (``alertlens.features``) and the teacher's rendering, which can show
an address as what it means (its scope and named networks) instead of the number.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import NamedTuple


class ParsedIp(NamedTuple):
    """An IP address as (version, integer value, scope, subnet); version 0 means invalid."""

    version: int
    value: int
    scope: str
    subnet: str | None


class Network(NamedTuple):
    """A CIDR block as integers, so membership is one mask and compare."""

    version: int
    value: int
    mask: int


def parse_network(cidr: str) -> Network:
    """Parse a CIDR such as ``10.0.0.0/8``; raises ValueError if it is not a valid network."""
    net = ipaddress.ip_network(cidr.strip(), strict=True)
    return Network(net.version, int(net.network_address), int(net.netmask))


def in_networks(ip: ParsedIp, networks: Iterable[Network]) -> bool:
    """True if the address lies inside any of the networks (an invalid address lies in none)."""
    version, value = ip.version, ip.value
    return any(version == net.version and value & net.mask == net.value for net in networks)


# Checked in order, first match wins: loopback and link-local before the broader private and
# reserved blocks, so 127.0.0.1 reads "loopback", not "reserved".
_SCOPE_TABLE: tuple[tuple[Network, str], ...] = (
    (parse_network("127.0.0.0/8"), "loopback"),
    (parse_network("169.254.0.0/16"), "link_local"),
    (parse_network("224.0.0.0/4"), "multicast"),
    (parse_network("10.0.0.0/8"), "private"),
    (parse_network("172.16.0.0/12"), "private"),
    (parse_network("192.168.0.0/16"), "private"),
    (parse_network("100.64.0.0/10"), "private"),  # carrier-grade NAT: not routable, so not public
    (parse_network("0.0.0.0/8"), "reserved"),
    (parse_network("240.0.0.0/4"), "reserved"),  # includes the broadcast address
    (parse_network("192.0.0.0/24"), "reserved"),
    (parse_network("192.0.2.0/24"), "reserved"),  # documentation ranges (TEST-NET-1..3)
    (parse_network("198.51.100.0/24"), "reserved"),
    (parse_network("203.0.113.0/24"), "reserved"),
    (parse_network("198.18.0.0/15"), "reserved"),  # benchmarking
    (parse_network("::1/128"), "loopback"),
    (parse_network("::/128"), "reserved"),
    (parse_network("fe80::/10"), "link_local"),
    (parse_network("ff00::/8"), "multicast"),
    (parse_network("fc00::/7"), "private"),
    (parse_network("2001:db8::/32"), "reserved"),
)
_V6_SUBNET_MASK = ((1 << 48) - 1) << 80


def _index_by_first_octet(
    table: tuple[tuple[Network, str], ...],
) -> dict[int, tuple[tuple[Network, str], ...]]:
    """Group the IPv4 blocks by the first octets they cover, so a lookup tests 0-3 blocks."""
    index: dict[int, list[tuple[Network, str]]] = {}
    for net, scope in table:
        if net.version == 4:
            first = net.value >> 24
            for octet in range(first, first + 256 - (net.mask >> 24)):
                index.setdefault(octet, []).append((net, scope))
    return {octet: tuple(entries) for octet, entries in index.items()}


_V4_SCOPES_BY_OCTET = _index_by_first_octet(_SCOPE_TABLE)
_V6_SCOPES = tuple((net, scope) for net, scope in _SCOPE_TABLE if net.version == 6)


def _parse_ipv4(text: str) -> int | None:
    """Dotted-quad to int without ipaddress (5-10x faster; misses are common in alert streams)."""
    parts = text.split(".")
    # isascii guards against Unicode digits, which isdigit and int accept.
    if len(parts) != 4 or not text.isascii():
        return None
    value = 0
    for part in parts:
        # A leading zero is rejected, as ipaddress does: "010" may mean octal to some parsers.
        if not part.isdigit() or len(part) > 3 or (part[0] == "0" and len(part) > 1):
            return None
        octet = int(part)
        if octet > 255:
            return None
        value = value << 8 | octet
    return value


def ip_scope(version: int, value: int) -> str:
    """Scope of a valid address: private, public, loopback, link_local, multicast or reserved."""
    blocks = _V4_SCOPES_BY_OCTET.get(value >> 24, ()) if version == 4 else _V6_SCOPES
    for net, scope in blocks:
        if value & net.mask == net.value:
            return scope
    return "public"


def parse_ip(text: str) -> ParsedIp:
    """Parse an IPv4/IPv6 address; the subnet is its /24 (v4) or /48 (v6); never raises."""
    text = text.strip()
    v4 = _parse_ipv4(text)
    if v4 is not None:
        # The text is a canonical dotted quad here, so its /24 is a string operation.
        return ParsedIp(4, v4, ip_scope(4, v4), text.rpartition(".")[0] + ".0/24")
    if ":" not in text:
        return ParsedIp(0, 0, "invalid", None)
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return ParsedIp(0, 0, "invalid", None)
    if address.ipv4_mapped is not None:
        return parse_ip(str(address.ipv4_mapped))
    value = int(address)
    subnet = ipaddress.IPv6Network((value & _V6_SUBNET_MASK, 48))
    return ParsedIp(6, value, ip_scope(6, value), str(subnet))
